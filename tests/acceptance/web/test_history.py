"""History on the page: what the service sent while the page was closed shows on opening the
channel, older pages come when the log is scrolled to its top (or by the Older messages
button), what was on screen stays where it was, and no message shows twice."""

from playwright.sync_api import expect

from conftest import allowed_errors, enter_room, until

N = 130  # more than two pages of 50


def test_older_history_on_scroll_up_keeps_position_and_has_no_duplicates(browser, world):
    server, svc, ch = world
    # An account of its own, so that its 130 messages bury no other test's history.
    email, password = "history@example.com", "history-pw"
    server.add_account(email, password, "Hilda")
    ctx = browser.new_context(viewport={"width": 1100, "height": 800}, base_url=server.http)
    pg = ctx.new_page()
    pg.set_default_timeout(10000)
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    enter_room(pg, email, password)  # a member, then away
    pg.close()

    token = server.sign_in(email, password)
    uid = server.ok("GET", "/user/info", None, token)["user_id"]

    async def send_all():
        for i in range(N):
            await svc.send_message(f"old {i:03}", ch, svc.agent.character_id, [uid])
    svc.run(send_all())
    until(lambda: any(m.get("content", {}).get("text") == f"old {N - 1:03}"
                      for m in server.ok("GET", f"/channel/history_message?channel_id={ch}&limit=5&before=null", None, token)),
          10, "the last message in history")

    pg = ctx.new_page()
    pg.set_default_timeout(10000)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    enter_room(pg, email, password)
    log = pg.get_by_role("log")
    expect(log.get_by_text(f"old {N - 1:03}", exact=True)).to_be_visible()
    oldest_shown = f"old {N - 50:03}"
    expect(log.get_by_text(oldest_shown, exact=True)).to_have_count(1)
    expect(log.get_by_text(f"old {N - 51:03}", exact=True)).to_have_count(0)

    # Scrolled to the top: the page before comes, and the message that was on screen stays put.
    top_before = log.evaluate("""(el, text) => {
        el.scrollTop = 0;
        const m = [...el.querySelectorAll('.text')].find((t) => t.textContent === text);
        return m.getBoundingClientRect().top;
    }""", oldest_shown)
    expect(log.get_by_text(f"old {N - 51:03}", exact=True)).to_have_count(1)
    expect(log.get_by_text("Loading older messages…")).to_have_count(0)
    top_after = log.get_by_text(oldest_shown, exact=True).evaluate("el => el.getBoundingClientRect().top")
    assert abs(top_after - top_before) < 2, (top_before, top_after)

    # By keyboard: the Older messages button, until the start.
    older = log.get_by_role("button", name="Older messages")
    while not log.get_by_text("old 000", exact=True).count():
        older.focus()
        pg.keyboard.press("Enter")
        expect(log.get_by_text("Loading older messages…")).to_have_count(0)
        if log.get_by_text("The start of the conversation").count():
            break
    expect(log.get_by_text("old 000", exact=True)).to_have_count(1)

    texts = log.locator(".text").all_inner_texts()
    olds = [t for t in texts if t.startswith("old ")]
    assert olds == [f"old {i:03}" for i in range(N)], olds[:5]
    assert allowed_errors(errors) == []
    ctx.close()
