"""A service dialog with every component type, filled and submitted by keyboard, the values in
component order; canvas shown and hidden as the service's style says; service text with markup
shown as text."""

import pytest
from playwright.sync_api import expect

from conftest import SHOTS, allowed_errors, enter_room
from sdkshim import events

EMAIL, PASSWORD = "dialogs@example.com", "dialogs-pw"


@pytest.fixture(scope="module", autouse=True)
def account(world):
    world[0].add_account(EMAIL, PASSWORD, "Dora")


def test_every_component_type_by_keyboard_and_canvas_hidden_and_shown(page, world):
    server, svc, ch = world
    pg = page
    enter_room(pg, EMAIL, PASSWORD)
    n = len(events(svc, "button_click"))
    form = pg.get_by_role("button", name="Form")
    form.focus()
    pg.keyboard.press("Enter")
    dlg = pg.get_by_role("dialog", name="Every kind")
    expect(dlg.get_by_label("Name *")).to_be_focused()
    expect(dlg.get_by_text("not available")).to_be_visible()  # the invalid component, as text
    # Submitting without the required field is refused on the page.
    pg.keyboard.press("Enter")
    expect(dlg.get_by_role("alert")).to_contain_text("Name is required")
    pg.keyboard.type("<i>Ada</i>")
    pg.keyboard.press("Tab")
    expect(dlg.get_by_label("Notes")).to_be_focused()
    pg.keyboard.type("line one")
    pg.keyboard.press("Shift+Enter")
    pg.keyboard.press("Enter")  # a new line in a textbox, not a submit
    pg.keyboard.type("line two")
    pg.keyboard.press("Tab")
    pg.keyboard.type("42")
    pg.keyboard.press("Tab")
    pg.keyboard.type("pw")
    pg.keyboard.press("Tab")
    expect(dlg.get_by_label("Colour")).to_be_focused()
    dlg.get_by_label("Colour").select_option("green")
    assert dlg.get_by_label("Count").get_attribute("type") == "number"
    assert dlg.get_by_label("Secret").get_attribute("type") == "password"
    dlg.get_by_label("Secret").focus()
    pg.screenshot(path=f"{SHOTS}/web-page-dialog.png")
    pg.keyboard.press("Enter")
    expect(dlg).to_have_count(0)
    expect(form).to_be_focused()
    canvas = pg.get_by_label("Canvas")
    expect(canvas).to_contain_text("Form Name=<i>Ada</i> | Notes=line one")
    assert canvas.locator("i").count() == 0
    click = events(svc, "button_click")[n]
    assert (click.button_id, click.bottom_button_id) == ("form", "confirm")
    assert [(a.label, a.value) for a in click.arguments] == [
        ("Name", "<i>Ada</i>"), ("Notes", "line one\n\nline two"), ("Count", "42"), ("Secret", "pw"),
        ("Broken", ""), ("Colour", "green")]

    # The style decides whether the canvas shows.
    pg.get_by_role("button", name="Hide canvas").click()
    expect(canvas).to_have_count(0)
    pg.get_by_role("button", name="Show canvas").click()
    expect(canvas).to_be_visible()
    expect(canvas).to_contain_text("Form Name=")
    assert "expand" not in (canvas.get_attribute("class") or "")
    assert allowed_errors(pg.errors) == []
