"""Keyboard alone, at phone width in the light scheme: sign in, browse, join, send, a service
button, leave, sign out, with Tab, Shift+Tab and Enter only; no view scrolls sideways."""

import re

import pytest
from playwright.sync_api import expect

from conftest import allowed_errors, until
from sdkshim import events

EMAIL, PASSWORD = "keys@example.com", "keys-pw"


@pytest.fixture(scope="module", autouse=True)
def account(world):
    world[0].add_account(EMAIL, PASSWORD, "Kim")


def tab_to(pg, role, name, back=False):
    """Presses Tab (Shift+Tab) until the element with that role and name has the focus."""
    target = pg.get_by_role(role, name=name, exact=True)
    expect(target).to_be_visible()
    for _ in range(40):
        if target.evaluate("el => el === document.activeElement"):
            return
        pg.keyboard.press("Shift+Tab" if back else "Tab")
    raise AssertionError(f"{role} {name!r} is not reachable by Tab")


def no_sideways_scroll(pg):
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390


def test_every_action_by_keyboard_at_phone_width_in_light(browser, world):
    server, svc, ch = world
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, base_url=server.http, color_scheme="light")
    pg = ctx.new_page()
    pg.set_default_timeout(10000)
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto("/")
    expect(pg.get_by_label("Email")).to_be_focused()
    bg = pg.evaluate("getComputedStyle(document.body).backgroundColor")
    assert sum(int(x) for x in re.findall(r"\d+", bg)[:3]) > 600, bg
    no_sideways_scroll(pg)
    pg.keyboard.type(EMAIL)
    pg.keyboard.press("Tab")
    pg.keyboard.type(PASSWORD)
    pg.keyboard.press("Enter")
    expect(pg.get_by_role("button", name="Sign out")).to_be_visible()
    expect(pg.get_by_text("No channels yet.")).to_be_visible()

    tab_to(pg, "button", "Browse channels")
    pg.keyboard.press("Enter")
    no_sideways_scroll(pg)
    tab_to(pg, "button", "Join Echo room")
    joins, leaves = len(events(svc, "join")), len(events(svc, "leave"))
    pg.keyboard.press("Enter")
    until(lambda: len(events(svc, "join")) > joins, 10, "on_join at the service")
    box = pg.get_by_role("textbox", name="Message")
    tab_to(pg, "textbox", "Message")
    pg.keyboard.type("typed only")
    pg.keyboard.press("Enter")
    expect(pg.get_by_role("log")).to_contain_text("typed only (echo)")
    expect(box).to_be_focused()
    no_sideways_scroll(pg)

    tab_to(pg, "button", "Meow", back=True)
    pg.keyboard.press("Enter")
    expect(pg.get_by_label("Canvas")).to_contain_text("Clicked meow - confirm")

    tab_to(pg, "button", "Leave", back=True)
    pg.keyboard.press("Enter")
    expect(pg.get_by_role("log")).to_have_count(0)
    until(lambda: len(events(svc, "leave")) > leaves, 10, "on_leave at the service")
    expect(pg.get_by_role("navigation", name="Channels").get_by_role("button", name="Echo room")).to_have_count(0)
    tab_to(pg, "button", "Sign out", back=True)
    pg.keyboard.press("Enter")
    expect(pg.get_by_label("Email")).to_be_visible()
    assert allowed_errors(errors) == []
    ctx.close()
