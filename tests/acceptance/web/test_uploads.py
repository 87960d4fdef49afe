"""Uploads on the page: what the server serves them as (no upload may run script in the page's
origin), the page's own upload through the SDK's flow, and how each kind is shown."""

import json
import re
import urllib.request

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from conftest import SHOTS, allowed_errors, enter_room, sign_in, until, upload_raw
from sdkshim import events

# Each would, if it ran in the page's origin, copy the session to a place the test looks at.
SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>localStorage.setItem("pwned", "svg:" + localStorage.getItem("relay.session"))</script>'
       b'<rect width="10" height="10" fill="red"/></svg>')
HTML = (b'<!doctype html><title>x</title>'
        b'<script>localStorage.setItem("pwned", "html:" + localStorage.getItem("relay.session"))</script>')

# An account of its own, so that this module depends on no other's order or history.
EMAIL, PASSWORD = "uploads@example.com", "uploads-pw"


@pytest.fixture(scope="module", autouse=True)
def account(world):
    world[0].add_account(EMAIL, PASSWORD, "Ulla")


def test_an_uploaded_svg_or_html_with_script_does_not_run_in_the_page_origin(page, world):
    server = world[0]
    token = server.sign_in(EMAIL, PASSWORD)
    urls = [upload_raw(server, token, "svg", SVG), upload_raw(server, token, "html", HTML)]
    sign_in(page, PASSWORD, EMAIL)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert page.evaluate("localStorage.getItem('relay.session')")
    opened = page.context.new_page()
    for url in urls:
        # Opened directly, as a link to it would be: it is saved, not shown; and were it shown,
        # its sandbox would give it an origin of its own.
        with opened.expect_download() as download:
            try:
                opened.goto(url)
            except PlaywrightError as e:
                assert "Download is starting" in str(e), e
        assert download.value.url == url
    assert page.evaluate("localStorage.getItem('pwned')") is None
    assert opened.evaluate("() => { try { return localStorage.getItem('pwned'); } catch (e) { return null; } }") is None
    assert allowed_errors(page.errors) == []



def tiny_png():
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 4 for _ in range(4))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def tiny_wav():
    import io
    import wave
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(bytes(range(256)) * 8)
    return out.getvalue()


def test_uploads_from_the_page_use_the_sdk_flow_and_show_image_audio_and_file(page, world):
    server, svc, ch = world
    pg = page
    requests = []
    pg.on("request", lambda r: requests.append((r.method, r.url)))
    sent = []

    def on_socket(ws):
        ws.on("framesent", lambda f: sent.append(json.loads(f)))
    pg.on("websocket", on_socket)
    enter_room(pg, EMAIL, PASSWORD)
    n = len(events(svc, "message_up"))
    png, wav, txt = tiny_png(), tiny_wav(), b"plain notes\n"
    pg.get_by_label("Attach").set_input_files([
        {"name": "dot.png", "mimeType": "image/png", "buffer": png},
        {"name": "tone.wav", "mimeType": "audio/wav", "buffer": wav},
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": txt},
    ])
    # The service's echoes: the image inline, a player for the audio, a link for the file.
    log = pg.get_by_role("log")
    # Each twice: my message, kept in the log as mine, and the service's echo.
    img = log.get_by_role("img", name="dot.png")
    expect(img).to_have_count(2)
    img = img.last
    until(lambda: img.evaluate("i => i.complete && i.naturalWidth") == 4, 5, "the image decoded")
    audio = log.get_by_label("tone.wav")
    expect(audio).to_have_count(2)
    audio = audio.last
    assert audio.evaluate("a => a.tagName") == "AUDIO" and audio.get_attribute("src").endswith(".wav")
    link = log.get_by_role("link", name="notes.txt")
    expect(link).to_have_count(2)
    expect(link.last).to_have_attribute("href", re.compile(r"/file/store/\w+\.txt$"))
    # (Playwright delivers the socket's frame events while the checks above wait on the page.)
    until(lambda: len(events(svc, "message_up")) >= n + 3, 10, "three uploads at the service")
    ups = {m.subtype: m for m in events(svc, "message_up")[n:]}
    assert set(ups) == {"image", "audio", "file"}, ups
    for subtype, name, data in [("image", "dot.png", png), ("audio", "tone.wav", wav), ("file", "notes.txt", txt)]:
        c = ups[subtype].content
        assert c.filename == name and c.size == len(data), c
        assert c.path.startswith(server.http + "/file/store/") and c.path.endswith("." + name.split(".")[1]), c.path
        with urllib.request.urlopen(c.path) as r:
            assert r.read() == data
        # The SDK's calls: a ticket for the extension, then the unauthenticated multipart POST.
        assert ("GET", f"{server.http}/file/upload?extension={name.split('.')[1]}") in requests
        frames = [f for f in sent if f["type"] == "message_up" and f["body"]["subtype"] == subtype]
        assert frames and frames[0]["body"]["content"]["path"] == c.path, frames
    assert [m for m, u in requests if u == server.http + "/file/store/"] == ["POST"] * 3

    expect(log.get_by_text("✓ sent to the service")).to_have_count(3)
    pg.screenshot(path=f"{SHOTS}/web-page-uploads.png")
    assert allowed_errors(pg.errors) == []


def test_a_pasted_or_dropped_file_is_uploaded(page, world):
    server, svc, ch = world
    pg = page
    enter_room(pg, EMAIL, PASSWORD)
    n = len(events(svc, "message_up"))
    # The browser's own events, as a paste of a screenshot and a drop of a file would give them.
    pg.get_by_role("textbox", name="Message").evaluate("""el => {
        const dt = new DataTransfer();
        dt.items.add(new File(["pasted"], "pasted.txt", { type: "text/plain" }));
        el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
    }""")
    pg.get_by_role("log").evaluate("""el => {
        const dt = new DataTransfer();
        dt.items.add(new File(["dropped"], "dropped.txt", { type: "text/plain" }));
        el.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
        el.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    }""")
    log = pg.get_by_role("log")
    expect(log.get_by_role("link", name="pasted.txt")).to_have_count(2)
    expect(log.get_by_role("link", name="dropped.txt")).to_have_count(2)
    until(lambda: len(events(svc, "message_up")) >= n + 2, 10, "both at the service")
    names = sorted(m.content.filename for m in events(svc, "message_up")[n:])
    assert names == ["dropped.txt", "pasted.txt"], names
    assert pg.get_by_role("textbox", name="Message").input_value() == ""
    assert allowed_errors(pg.errors) == []
