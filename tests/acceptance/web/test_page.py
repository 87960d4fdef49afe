"""The web page for people in channels, in headless Chromium against `relay serve` and a real
moobius 1.8.0 echo service, through accessible names only."""

import json
import re
import signal
import time
import urllib.request

from playwright.sync_api import expect

from sdkshim import events

from conftest import SHOTS, allowed_errors, open_room, sign_in, until, until_on_page


def test_served_with_csp_etag_and_queue_root_unchanged(world):
    server = world[0]
    req = urllib.request.Request(server.http + "/app/", headers={"Accept": "text/html"})
    with urllib.request.urlopen(req) as r:
        assert r.headers["Content-Type"].startswith("text/html")
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        etag = r.headers["ETag"]
    req = urllib.request.Request(server.http + "/app/", headers={"If-None-Match": etag})
    try:
        urllib.request.urlopen(req)
        raise AssertionError("expected 304")
    except urllib.error.HTTPError as e:
        assert e.code == 304
    # The queue face's answer at / for API clients is unchanged (403 without its token).
    try:
        urllib.request.urlopen(server.http + "/")
        raise AssertionError("expected 403")
    except urllib.error.HTTPError as e:
        assert e.code == 403


def test_wrong_password_shows_an_alert(page):
    sign_in(page, "wrong")
    expect(page.get_by_role("alert")).to_be_visible()
    assert page.url.endswith("/app/")
    assert allowed_errors(page.errors) == []


def test_join_echo_buttons_dialog_markup_and_reload(page, world):
    server, svc, ch = world
    pg = page
    sign_in(pg)
    pg.get_by_role("button", name="Browse channels").click()
    pg.get_by_role("button", name="Join").first.click()
    until(lambda: events(svc, "join"), 10, "on_join at the service")
    expect(pg.get_by_role("log")).to_be_visible()
    expect(pg.get_by_role("list", name="People")).to_contain_text("Echo Bot")
    expect(pg.get_by_label("Canvas")).to_contain_text("Welcome to the echo room")

    box = pg.get_by_role("textbox", name="Message")
    n_up = len(events(svc, "message_up"))
    box.fill("hello")
    box.press("Enter")
    log = pg.get_by_role("log")
    expect(log).to_contain_text("hello (echo)")
    expect(log.get_by_text("Echo Bot").first).to_be_visible()
    up = until(lambda: events(svc, "message_up")[n_up:], 5, "message_up")
    assert up[0].content.text == "hello"

    # Shift+Enter is a new line, not a send.
    box.type("two")
    box.press("Shift+Enter")
    box.type("lines")
    assert box.input_value() == "two\nlines"
    box.fill("")

    # Markup is shown as text.
    evil = '<img src=x onerror="window.__pwned=1"><b>bold</b>'
    box.fill(evil)
    box.press("Enter")
    expect(log).to_contain_text(evil + " (echo)")
    assert pg.evaluate("window.__pwned") is None
    assert log.locator("b").count() == 0

    # A button without a dialog.
    pg.get_by_role("button", name="Meow").click()
    expect(pg.get_by_label("Canvas")).to_contain_text("Clicked meow - confirm")

    # A button with a dialog: Cancel sends nothing; a required field is enforced; submit sends.
    clicks_before = len(events(svc, "button_click"))
    pg.get_by_role("button", name="Repeat").click()
    dlg = pg.get_by_role("dialog", name="Repeat what?")
    expect(dlg).to_be_visible()
    dlg.get_by_role("button", name="Cancel").click()
    expect(dlg).to_have_count(0)
    pg.get_by_role("button", name="Repeat").click()
    dlg.get_by_role("button", name="Extra 2x").click()
    expect(dlg.get_by_role("alert")).to_be_visible()
    dlg.get_by_label("How many?").select_option("2")
    dlg.get_by_role("button", name="Extra 2x").click()
    expect(pg.get_by_label("Canvas")).to_contain_text("Clicked repeat 2 double")
    time.sleep(0.3)
    assert len(events(svc, "button_click")) == clicks_before + 1
    pg.screenshot(path=f"{SHOTS}/web-page.png")

    # A reload keeps the session and shows the history.
    pg.reload()
    open_room(pg)
    expect(pg.get_by_role("log")).to_contain_text("hello (echo)")
    assert allowed_errors(pg.errors) == []


def test_reconnect_after_kill9_without_duplicates(page, world):
    server, svc, ch = world
    pg = page
    sent = []  # frames the page sends, per socket
    pg.on("websocket", lambda ws: (sent.append([]), ws.on("framesent", lambda f: sent[-1].append(json.loads(f)))))
    sign_in(pg)
    open_room(pg)
    log = pg.get_by_role("log")
    expect(log).to_contain_text("hello (echo)")
    before = log.get_by_text("hello (echo)", exact=True).count()
    until_on_page(pg, lambda: sent and any(f["type"] == "resume" for f in sent[-1]), 10, "first resume")
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    server.proc = None
    expect(pg.get_by_role("status").filter(has_text="Reconnecting…")).to_be_visible(timeout=5000)
    sockets = len(sent)
    server.start()
    expect(pg.get_by_role("status").filter(has_text="Reconnecting")).to_have_count(0, timeout=20000)
    # On the new socket: the login first, then the resume from where the page was, then refresh.
    try:
        until_on_page(pg, lambda: [f for s in sent[sockets:] for f in s if f["type"] == "action"], 10,
                      "refresh after reconnect")
    except AssertionError:
        seen = [[(f["type"], f.get("body", {}).get("subtype")) for f in s] for s in sent]
        raise AssertionError(f"no refresh after reconnect; sockets before the restart: {sockets}; "
                             f"frames sent per socket: {seen}; server log tail:\n{''.join(server.log_lines[-30:])}")
    last = [f for f in sent[-1] if f["type"] != "heartbeat"]
    assert [f["type"] for f in last[:3]] == ["user_login", "resume", "action"], last[:3]
    assert last[1]["body"]["channel_id"] == ch and isinstance(last[1]["body"].get("from"), int), last[1]
    assert last[2]["body"]["subtype"] == "refresh"
    # The service reconnects by itself; then a message goes through again.
    n = len(events(svc, "message_up"))
    box = pg.get_by_role("textbox", name="Message")
    deadline = time.time() + 30
    while len(events(svc, "message_up")) == n and time.time() < deadline:
        box.fill("after restart")
        box.press("Enter")
        try:
            until(lambda: len(events(svc, "message_up")) > n, 5, "message after restart")
        except AssertionError:
            pass
    expect(log).to_contain_text("after restart (echo)", timeout=15000)
    time.sleep(0.5)
    assert log.get_by_text("hello (echo)", exact=True).count() == before
    assert log.get_by_text("after restart (echo)", exact=True).count() == 1
    assert allowed_errors(pg.errors) == []


def test_phone_width_and_dark_scheme(browser, world):
    server = world[0]
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, base_url=server.http, color_scheme="dark")
    pg = ctx.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(pg)
    expect(pg.get_by_role("button", name="Echo room")).to_be_visible()
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390
    open_room(pg)
    expect(pg.get_by_role("log")).to_contain_text("hello (echo)")
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390
    bg = pg.evaluate("getComputedStyle(document.body).backgroundColor")
    r, g, b = [int(x) for x in re.findall(r"\d+", bg)[:3]]
    assert r + g + b < 150, bg
    pg.screenshot(path=f"{SHOTS}/web-page-phone-dark.png")
    assert errors == []
    ctx.close()
