"""Messages written while the server is away wait ("waiting for the connection…") and go out,
in order, after the page logs in again; a message that cannot be sent says why and offers Retry
and Discard."""

import json
import signal

import pytest
from playwright.sync_api import expect

from conftest import allowed_errors, enter_room, until
from sdkshim import events

EMAIL, PASSWORD = "offline@example.com", "offline-pw"


@pytest.fixture(scope="module", autouse=True)
def account(world):
    world[0].add_account(EMAIL, PASSWORD, "Olga")


def test_written_while_away_is_sent_after_the_login_and_refused_offers_retry(page, world):
    server, svc, ch = world
    pg = page
    sockets = []

    def on_socket(ws):
        frames = []
        sockets.append(frames)
        ws.on("framesent", lambda f: frames.append(json.loads(f)))
    pg.on("websocket", on_socket)
    enter_room(pg, EMAIL, PASSWORD)
    log = pg.get_by_role("log")
    box = pg.get_by_role("textbox", name="Message")
    expect(pg.get_by_role("status").filter(has_text="Reconnecting")).to_have_count(0)

    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    server.proc = None
    expect(pg.get_by_role("status").filter(has_text="Reconnecting…")).to_be_visible()
    for text in ("first while away", "second while away"):
        box.fill(text)
        box.press("Enter")
    waiting = log.get_by_role("article").filter(has_text="waiting for the connection…")
    expect(waiting).to_have_count(2)
    before = len(sockets)
    server.start()
    expect(pg.get_by_role("status").filter(has_text="Reconnecting")).to_have_count(0, timeout=20000)
    expect(log.get_by_role("article").filter(has_text="while away").filter(has_text="✓ sent to the service")).to_have_count(2)
    # On the new socket, after the login: both, in the order they were written.
    frames = [f for s in sockets[before:] for f in s]
    ups = [f["body"]["content"]["text"] for f in frames if f["type"] == "message_up"]
    assert ups == ["first while away", "second while away"], ups
    assert frames[0]["type"] == "user_login"

    # The service comes back by itself; until then its messages are dropped (the platform's
    # semantics), so keep asking until an echo shows the way through is open again.
    n = len(events(svc, "message_up"))
    for _ in range(12):
        box.fill("anyone back?")
        box.press("Enter")
        try:
            until(lambda: len(events(svc, "message_up")) > n, 5, "the service back")
            break
        except AssertionError:
            pass
    expect(log).to_contain_text("anyone back? (echo)", timeout=15000)

    # Too big for the server's frames (it would close the socket on it, and a resend after each
    # reconnect would loop): refused on the page, with why, and Retry / Discard; nothing sent.
    sent_before = sum(1 for s in sockets for f in s if f["type"] == "message_up")
    box.fill("x" * (1100 * 1024))
    box.press("Enter")
    failed = log.get_by_role("article").filter(has_text="not sent:")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("too large to send")
    failed.get_by_role("button", name="Retry").click()
    expect(failed.get_by_role("button", name="Retry")).to_be_visible()
    assert sum(1 for s in sockets for f in s if f["type"] == "message_up") == sent_before
    expect(pg.get_by_role("status").filter(has_text="Reconnecting")).to_have_count(0)
    failed.get_by_role("button", name="Discard").click()
    expect(failed).to_have_count(0)
    assert allowed_errors(pg.errors) == []
