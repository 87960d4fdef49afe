"""Uploads on the page: what the server serves them as (no upload may run script in the page's
origin), the page's own upload through the SDK's flow, and how each kind is shown."""

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from conftest import allowed_errors, sign_in, upload_raw

# Each would, if it ran in the page's origin, copy the session to a place the test looks at.
SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>localStorage.setItem("pwned", "svg:" + localStorage.getItem("relay.session"))</script>'
       b'<rect width="10" height="10" fill="red"/></svg>')
HTML = (b'<!doctype html><title>x</title>'
        b'<script>localStorage.setItem("pwned", "html:" + localStorage.getItem("relay.session"))</script>')


def test_an_uploaded_svg_or_html_with_script_does_not_run_in_the_page_origin(page, world):
    server = world[0]
    token = server.sign_in("user@example.com", "user-pw")
    urls = [upload_raw(server, token, "svg", SVG), upload_raw(server, token, "html", HTML)]
    sign_in(page)
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

