"""Fixtures of the web page's suite: one headless Chromium (Debian's, never a downloaded one) and
one `relay serve` with a real Moobius SDK echo service, each started once for the whole suite."""

import asyncio
import os
import re
import sys
import threading
import time

import pytest

# The channel suite's helpers: the server driver and the SDK's ws:// shim.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "channels"))

import sdkshim  # noqa: E402  (patches the SDK for ws://)
from moobius.types import BottomButton, Button, CanvasItem, Dialog, InputComponent, MenuItem, StyleItem  # noqa: E402
from playwright.sync_api import expect  # noqa: E402
from relaytest import Server  # noqa: E402
from sdkshim import EchoBase, events  # noqa: E402

# The screenshots in docs/ are taken with RELAY_SCREENSHOTS=docs; a plain run leaves the tree alone.
SHOTS = os.environ.get("RELAY_SCREENSHOTS") or __import__("tempfile").gettempdir()

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


pytest_plugins = ["sdk_session"]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class ServiceThread:
    """Runs an SDK service instance's `start()` in its own thread and event loop."""

    def __init__(self, make):
        self.make = make
        self.svc = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        self.svc = self.make()
        self.ready.set()
        try:
            loop.run_until_complete(self.svc.start())
        except BaseException:
            pass

    def start(self):
        self.thread.start()
        self.ready.wait(30)
        return self


class EchoService(EchoBase):
    async def push_ui(self, ch, uid):
        await self.send_characters([uid, self.agent.character_id], ch, [uid])
        await self.send_buttons([
            Button(button_id="meow", button_text="Meow"),
            Button(button_id="repeat", button_text="Repeat", dialog=Dialog(
                title="Repeat what?",
                components=[InputComponent(label="How many?", type="dropdown", required=True, choices=["1", "2", "3"])],
                bottom_buttons=[BottomButton(id="cancel", text="Cancel", submit=False),
                                BottomButton(id="double", text="Extra 2x", submit=True)])),
            Button(button_id="form", button_text="Form", dialog=Dialog(title="Every kind", components=[
                InputComponent(label="Name", type="text", required=True, placeholder="your name"),
                InputComponent(label="Notes", type="textbox"),
                InputComponent(label="Count", type="number"),
                InputComponent(label="Secret", type="password"),
                InputComponent(label="Broken", type="invalid", placeholder="not available"),
                InputComponent(label="Colour", type="dropdown", choices=["red", "green"]),
            ])),
            Button(button_id="hide", button_text="Hide canvas"),
            Button(button_id="show", button_text="Show canvas"),
        ], ch, [uid])
        await self.send_menu([
            MenuItem(menu_item_id="mi_type", menu_item_text="What type?", message_subtypes=["text"]),
            MenuItem(menu_item_id="mi_quote", menu_item_text="Quote", message_subtypes=["text", "image"], dialog=Dialog(
                title="Quote as", components=[InputComponent(label="Style", type="text", placeholder="plain")])),
        ], ch, [uid])
        await self.send_style([StyleItem(widget="canvas", display="visible", expand=True)], ch, [uid])
        await self.send_canvas([CanvasItem(text="Welcome to the echo room", path=None)], ch, [uid])

    async def on_message_up(self, message):
        if message.subtype == "text":
            return await super().on_message_up(message)
        # Uploads come back as they went, by URL: the page shows the service's echo.
        self.events.append(("message_up", message))
        c = message.content
        await self.send_message(c.path, message.channel_id, self.agent.character_id, [message.sender],
                                subtype=message.subtype, file_display_name=c.filename)

    async def on_refresh(self, action):
        self.events.append(("refresh", action))
        await self.push_ui(action.channel_id, action.sender)

    async def on_menu_item_click(self, click):
        self.events.append(("menu_item_click", click))
        await self.send_canvas([CanvasItem(text=f"Menu {click.menu_item_id} on {click.message_subtype}", path=None)],
                               click.channel_id, [click.sender])

    async def on_button_click(self, click):
        self.events.append(("button_click", click))
        if click.button_id in ("hide", "show"):
            display = "invisible" if click.button_id == "hide" else "visible"
            return await self.send_style([StyleItem(widget="canvas", display=display, expand=False)], click.channel_id, [click.sender])
        if click.button_id == "form":
            text = "Form " + " | ".join(f"{a.label}={a.value}" for a in click.arguments)
            return await self.send_canvas([CanvasItem(text=text, path=None)], click.channel_id, [click.sender])
        value = click.arguments[0].value if click.arguments else "-"
        await self.send_canvas([CanvasItem(text=f"Clicked {click.button_id} {value} {click.bottom_button_id}", path=None)],
                               click.channel_id, [click.sender])


def until_on_page(pg, pred, timeout, what):
    """Like `until`, for what the page's events (websocket frames, console lines) fill in:
    Playwright's sync API hands those events over only while the test waits in a Playwright
    call, so this waits in one between tries instead of sleeping."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        pg.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {what}")


def until(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("web"))
    server.start()
    server.add_account("owner@example.com", "owner-pw", "Owner")
    server.add_account("user@example.com", "user-pw", "Ada")
    t_owner = server.sign_in("owner@example.com", "owner-pw")
    ch = server.ok("POST", "/channel/create", {"channel_name": "Echo room", "context": {"channel_description": "echo"}}, t_owner)["channel_id"]
    st = ServiceThread(lambda: EchoService(**sdkshim.configs(server, "owner@example.com", "owner-pw", True, [ch]))).start()
    until(lambda: events(st.svc, "start"), 30, "service on_start")
    # Lets a test run one of the service's coroutines in its loop and wait for the result.
    st.svc.run = lambda coro: asyncio.run_coroutine_threadsafe(coro, st.loop).result(30)
    yield server, st.svc, ch
    server.stop()


@pytest.fixture
def page(browser, world):
    server = world[0]
    ctx = browser.new_context(viewport={"width": 1100, "height": 800}, base_url=server.http)
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(f"pageerror: {e}"))
    pg.on("console", lambda m: m.type == "error" and pg.errors.append(f"console: {m.text}"))
    pg.set_default_timeout(10000)
    yield pg
    ctx.close()


def allowed_errors(errors):
    # The browser logs failed loads of unreachable avatar URLs and a lost socket while the server
    # is down; neither is a script error.
    return [e for e in errors if not re.search(r"ERR_NAME_NOT_RESOLVED|ERR_CONNECTION_REFUSED|ERR_INTERNET_DISCONNECTED|WebSocket connection|Failed to load resource|ERR_PROXY|ERR_ADDRESS_UNREACHABLE|ERR_TUNNEL", e)]


def sign_in(pg, password="user-pw", email="user@example.com"):
    pg.goto("/")
    out = pg.get_by_role("button", name="Sign out")
    expect(pg.get_by_label("Email").or_(out)).to_be_visible()
    if out.count():
        return  # the context's session is still there
    pg.get_by_label("Email").fill(email)
    pg.get_by_label("Password").fill(password)
    pg.get_by_role("button", name="Sign in").click()


def open_room(pg):
    pg.get_by_role("button", name="Echo room").click()
    expect(pg.get_by_role("log")).to_be_visible()


def enter_room(pg, email="user@example.com", password="user-pw"):
    """Signs in and opens the echo room, joining it first if this account is not a member yet
    (so that a test does not depend on the order in which the others ran)."""
    sign_in(pg, password, email)
    nav = pg.get_by_role("navigation", name="Channels")
    room = nav.get_by_role("button", name="Echo room")
    expect(room.or_(nav.get_by_text("No channels yet."))).to_be_visible()
    if room.count() == 0:
        pg.get_by_role("button", name="Browse channels").click()
        pg.get_by_role("button", name="Join Echo room").click()
    else:
        room.click()
    expect(pg.get_by_role("log")).to_be_visible()


def upload_raw(server, token, ext, data):
    """Uploads `data` through the SDK's flow with plain HTTP; returns the file's URL."""
    ticket = server.ok("GET", f"/file/upload?extension={ext}", None, token)
    key = ticket["fields"]["key"]
    body = (f'--XyZ\r\nContent-Disposition: form-data; name="key"\r\n\r\n{key}\r\n'
            '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="file"\r\n\r\n').encode() + data + b"\r\n--XyZ--\r\n"
    req = __import__("urllib.request").request.Request(ticket["url"], data=body, method="POST",
                                                      headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
    with __import__("urllib.request").request.urlopen(req) as r:
        r.read()
    return ticket["url"] + key
