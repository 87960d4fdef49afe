"""The menu on messages: the service's items for the message's subtype, by right-click and by
keyboard alone (a focused message, then Shift+F10 or the ContextMenu key), each choice sent as
the SDK's user mode sends a menu_item_click, a dialog's values included."""

import json

import pytest
from playwright.sync_api import expect

from conftest import SHOTS, allowed_errors, enter_room, until, upload_raw
from sdkshim import events
from test_uploads import tiny_png

# An account of its own, so that this module depends on no other's order or history.
EMAIL, PASSWORD = "menu@example.com", "menu-pw"


@pytest.fixture(scope="module", autouse=True)
def account(world):
    world[0].add_account(EMAIL, PASSWORD, "Mina")


def test_menu_by_right_click_and_keyboard_reaches_the_service(page, world):
    server, svc, ch = world
    pg = page
    got = []

    def on_socket(ws):
        ws.on("framereceived", lambda f: got.append(json.loads(f)))
    pg.on("websocket", on_socket)
    enter_room(pg, EMAIL, PASSWORD)
    log = pg.get_by_role("log")
    box = pg.get_by_role("textbox", name="Message")
    box.fill("menu me")
    box.press("Enter")
    echo = log.get_by_role("article").filter(has_text="menu me (echo)")
    expect(echo).to_have_count(1)
    echo_id = [f["body"]["message_id"] for f in got if f["type"] == "message_down"
               and f["body"]["content"].get("text") == "menu me (echo)"][0]

    # Right-click: the text message's items.
    n = len(events(svc, "menu_item_click"))
    echo.click(button="right")
    menu = pg.get_by_role("menu", name="Message actions")
    expect(menu.get_by_role("menuitem")).to_have_text(["What type?", "Quote"])
    pg.screenshot(path=f"{SHOTS}/web-page-menu.png")
    menu.get_by_role("menuitem", name="What type?").click()
    expect(menu).to_have_count(0)
    expect(pg.get_by_label("Canvas")).to_contain_text("Menu mi_type on text")
    click = events(svc, "menu_item_click")[n]
    assert (click.menu_item_id, click.message_id, click.message_subtype, click.message_content.text, click.bottom_button_id) \
        == ("mi_type", echo_id, "text", "menu me (echo)", "confirm"), click
    assert click.arguments == []

    # Keyboard alone: into the log, up to the message, Shift+F10, down to Quote, its dialog.
    log.focus()
    pg.keyboard.press("End")
    expect(echo).to_be_focused()
    pg.keyboard.press("Shift+F10")
    expect(menu.get_by_role("menuitem", name="What type?")).to_be_focused()
    pg.keyboard.press("ArrowDown")
    pg.keyboard.press("Enter")
    dlg = pg.get_by_role("dialog", name="Quote as")
    expect(dlg.get_by_label("Style")).to_be_focused()
    pg.keyboard.type("bold")
    pg.keyboard.press("Tab")
    expect(dlg.get_by_role("button", name="Confirm")).to_be_focused()
    pg.keyboard.press("Enter")
    expect(dlg).to_have_count(0)
    expect(echo).to_be_focused()
    expect(pg.get_by_label("Canvas")).to_contain_text("Menu mi_quote on text")
    click = events(svc, "menu_item_click")[n + 1]
    assert (click.menu_item_id, click.message_id, click.bottom_button_id) == ("mi_quote", echo_id, "confirm")
    assert [(a.label, a.value) for a in click.arguments] == [("Style", "bold")]

    # The ContextMenu key opens it too; Escape closes it and sends nothing.
    pg.keyboard.press("ContextMenu")
    expect(menu).to_be_visible()
    pg.keyboard.press("Escape")
    expect(menu).to_have_count(0)
    expect(echo).to_be_focused()

    # An image: only the items for images.
    token = server.sign_in(EMAIL, PASSWORD)
    uid = server.ok("GET", "/user/info", None, token)["user_id"]
    url = upload_raw(server, token, "png", tiny_png())
    svc.run(svc.send_message(url, ch, svc.agent.character_id, [uid], subtype="image", file_display_name="menu.png"))
    img = log.get_by_role("article").filter(has=pg.get_by_role("img", name="menu.png"))
    expect(img).to_have_count(1)
    img.click(button="right")
    expect(menu.get_by_role("menuitem")).to_have_text(["Quote"])
    pg.keyboard.press("Escape")
    until(lambda: len(events(svc, "menu_item_click")) == n + 2, 1, "no click from Escape")
    assert allowed_errors(pg.errors) == []
