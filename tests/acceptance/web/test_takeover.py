"""The same account signed in elsewhere: the page says so and offers to take over, and does not
log in again by itself (two tabs would take the identity from each other in a loop); taking
over works both ways."""

import json

import pytest
from playwright.sync_api import expect

from conftest import allowed_errors, enter_room, sign_in

EMAIL, PASSWORD = "takeover@example.com", "takeover-pw"


@pytest.fixture(scope="module", autouse=True)
def account(world):
    world[0].add_account(EMAIL, PASSWORD, "Theo")


def logins(pg):
    """The user_login frames this page sends, counted as they go out."""
    sent = []

    def on_socket(ws):
        ws.on("framesent", lambda f: json.loads(f)["type"] == "user_login" and sent.append(1))
    pg.on("websocket", on_socket)
    return sent


def test_signed_in_elsewhere_offers_to_take_over_without_a_loop(browser, page, world):
    server = world[0]
    a = page
    a_logins = logins(a)
    enter_room(a, EMAIL, PASSWORD)
    expect(a.get_by_role("textbox", name="Message")).to_be_visible()

    ctx_b = browser.new_context(viewport={"width": 1100, "height": 800}, base_url=server.http)
    b = ctx_b.new_page()
    b.set_default_timeout(10000)
    b_logins = logins(b)
    sign_in(b, PASSWORD, EMAIL)
    expect(b.get_by_role("button", name="Sign out")).to_be_visible()

    offer = a.get_by_role("status").filter(has_text="Signed in elsewhere")
    expect(offer).to_be_visible()
    use_here = offer.get_by_role("button", name="Use here")
    expect(use_here).to_be_visible()
    # Left alone, it stays that way: no login of its own (after a good login the page's reconnect
    # delay is 250 ms, so a page that reconnected by itself would have done so several times).
    before = len(a_logins)
    a.wait_for_timeout(2000)
    assert len(a_logins) == before
    expect(offer).to_be_visible()
    expect(b.get_by_role("status").filter(has_text="Signed in elsewhere")).to_have_count(0)

    # Taking over: this page is back, the other now makes the offer, and also waits.
    b_before = len(b_logins)
    use_here.click()
    expect(offer).to_have_count(0)
    expect(b.get_by_role("status").filter(has_text="Signed in elsewhere")).to_be_visible()
    box = a.get_by_role("textbox", name="Message")
    box.fill("here again")
    box.press("Enter")
    expect(a.get_by_role("log")).to_contain_text("here again (echo)")
    b.wait_for_timeout(1000)
    assert len(b_logins) == b_before
    assert allowed_errors(a.errors) == []
    ctx_b.close()
