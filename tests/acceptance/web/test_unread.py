"""What came while I was not looking: a count of unread messages beside a channel that is not
open, and a "new messages" button when the log is scrolled away from its end (which then
stays where the reader left it)."""

import pytest
from playwright.sync_api import expect

from conftest import allowed_errors, enter_room

EMAIL, PASSWORD = "unread@example.com", "unread-pw"


@pytest.fixture(scope="module", autouse=True)
def account(world):
    world[0].add_account(EMAIL, PASSWORD, "Ursula")


def test_unread_counts_and_new_messages_below(page, world):
    server, svc, ch = world
    pg = page
    enter_room(pg, EMAIL, PASSWORD)
    token = server.sign_in(EMAIL, PASSWORD)
    uid = server.ok("GET", "/user/info", None, token)["user_id"]

    def say(*texts):
        async def go():
            for t in texts:
                await svc.send_message(t, ch, svc.agent.character_id, [uid])
        svc.run(go())

    log = pg.get_by_role("log")
    say(*[f"filler {i:02}" for i in range(40)])
    expect(log.get_by_text("filler 39", exact=True)).to_be_in_viewport()

    # Scrolled up: new messages do not move the log; a button says they are there.
    # Resolves once the scroll event has reached the page's own handler (registered before
    # this one), so the page knows it is away from the end before anything new arrives.
    log.evaluate("""el => new Promise(done => {
        el.addEventListener("scroll", () => requestAnimationFrame(() => done(true)), { once: true });
        el.scrollTop = el.scrollHeight / 2;
        setTimeout(() => done(false), 5000);
    })""")
    top = log.evaluate("el => el.scrollTop")
    say("below 1", "below 2")
    jump = pg.get_by_role("button", name="2 new messages")
    expect(jump).to_be_visible()
    assert log.evaluate("el => el.scrollTop") == top
    expect(log.get_by_text("below 2", exact=True)).not_to_be_in_viewport()
    jump.click()
    expect(log.get_by_text("below 2", exact=True)).to_be_in_viewport()
    expect(jump).to_have_count(0)

    # Away from the channel: a count beside it, gone once it is open again.
    pg.get_by_role("button", name="Browse channels").click()
    expect(log).to_have_count(0)
    say("away 1", "away 2", "away 3")
    room = pg.get_by_role("navigation", name="Channels").get_by_role("button", name="Echo room")
    expect(room).to_have_accessible_name("Echo room 3 unread")
    room.click()
    expect(log.get_by_text("away 3", exact=True)).to_be_in_viewport()
    expect(room).to_have_accessible_name("Echo room")
    assert allowed_errors(pg.errors) == []
