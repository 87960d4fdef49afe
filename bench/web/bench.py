"""The web page's benchmark: what the page weighs as served (JavaScript, gzip) and how long a
signed-in person waits from navigating to a channel's address until its view with history is on
screen, in headless Chromium against `relay serve` on loopback. An absolute figure: the issue
names no peer to run beside it.

The page marks `relay:channel-view` (performance.mark) on the first animation frame after the
open channel's history is rendered; the figure is that mark's time since the navigation began
(`performance.timeOrigin`). Cold: a new browser context per run (no HTTP cache, the session in
localStorage); warm: reloads in one context (every file revalidated by its ETag, 304).
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def summary(xs):
    return {"runs": len(xs), "median_ms": round(statistics.median(xs), 1), "p90_ms": round(pct(xs, 90), 1),
            "min_ms": round(min(xs), 1), "max_ms": round(max(xs), 1)}


async def seed(server, token_owner, token_user, ch, uid, n):
    """A bound service sends the user `n` messages, so the view has a page of history."""
    from relaytest import Raw
    sid = server.ok("POST", "/service/create", {"description": "bench"}, token_owner)["service_id"]
    server.ok("POST", "/service/bind", {"channel_id": ch, "service_id": sid}, token_owner)
    group = server.ok("POST", "/service/group/create", {"group_id": "", "characters": [uid]}, token_owner)
    svc = await Raw(server.ws).open()
    assert (await svc.login_service(token_owner, sid))["body"]["status"] is True
    for i in range(n):
        c = await svc.request({"type": "message_down", "service_id": sid, "body": {
            "subtype": "text", "channel_id": ch, "content": {"text": f"message {i}: " + "lorem ipsum " * 4},
            "recipients": group, "sender": sid, "context": {}}})
        assert c["body"]["status"] is True, c
    await svc.close()


async def join(server, token_user, ch):
    from relaytest import Raw
    u = await Raw(server.ws).open()
    assert (await u.login_user(token_user))["body"]["status"] is True
    c = await u.request({"type": "action", "body": {"subtype": "join_channel", "channel_id": ch, "context": {}}})
    assert c["body"]["status"] is True, c
    await u.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--relay", required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--messages", type=int, default=50)
    ap.add_argument("--out")
    a = ap.parse_args()
    os.environ["RELAY_BIN"] = a.relay
    sys.path.insert(0, os.path.join(REPO, "tests", "acceptance", "channels"))
    sys.path.insert(0, os.path.join(REPO, "tests", "acceptance", "web"))
    from relaytest import Server
    from playwright.sync_api import sync_playwright
    from conftest import CHROMIUM_ARGS

    server = Server(tempfile.mkdtemp(prefix="bench-web-"))
    server.start()
    try:
        server.add_account("owner@example.com", "owner-pw", "Owner")
        server.add_account("user@example.com", "user-pw", "Ada")
        t_owner = server.sign_in("owner@example.com", "owner-pw")
        t_user = server.sign_in("user@example.com", "user-pw")
        uid = server.ok("GET", "/user/info", None, t_user)["user_id"]
        ch = server.ok("POST", "/channel/create", {"channel_name": "Bench room", "context": {"channel_description": ""}}, t_owner)["channel_id"]
        asyncio.run(join(server, t_user, ch))
        asyncio.run(seed(server, t_owner, t_user, ch, uid, a.messages))
        url = f"{server.http}/app/#{ch}"
        result = {"time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "messages_in_view": a.messages}

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=a.chromium, args=CHROMIUM_ARGS, headless=True)
            result["chromium"] = browser.version
            # One sign-in through the page, kept as the storage state every run starts from.
            ctx = browser.new_context(base_url=server.http)
            pg = ctx.new_page()
            pg.goto("/app/")
            pg.get_by_label("Email").fill("user@example.com")
            pg.get_by_label("Password").fill("user-pw")
            pg.get_by_role("button", name="Sign in").click()
            pg.get_by_role("button", name="Sign out").wait_for()
            state = ctx.storage_state()
            ctx.close()

            def measure(pg, reload=False):
                if reload:
                    pg.reload()
                else:
                    pg.goto(url)
                pg.wait_for_function("() => performance.getEntriesByName('relay:channel-view').length > 0", timeout=10000)
                return pg.evaluate("""() => {
                    const nav = performance.getEntriesByType('navigation')[0];
                    const res = performance.getEntriesByType('resource');
                    const js = res.filter((r) => r.name.endsWith('.js'));
                    const sum = (xs, k) => xs.reduce((n, r) => n + r[k], 0);
                    return {
                        view: performance.getEntriesByName('relay:channel-view')[0].startTime,
                        dom: nav.domContentLoadedEventEnd,
                        articles: document.querySelectorAll('[role=log] article').length,
                        js_files: js.map((r) => r.name.split('/app/')[1]),
                        js_wire: sum(js, 'encodedBodySize'), js_raw: sum(js, 'decodedBodySize'),
                        all_wire: sum(res, 'encodedBodySize') + nav.encodedBodySize,
                        all_raw: sum(res, 'decodedBodySize') + nav.decodedBodySize,
                    };
                }""")

            cold = []
            for _ in range(a.runs + 1):
                c = browser.new_context(base_url=server.http, storage_state=state)
                cold.append(measure(c.new_page()))
                c.close()
            cold = cold[1:]  # the first run warms the server and the browser process, not the page
            c = browser.new_context(base_url=server.http, storage_state=state)
            pg = c.new_page()
            measure(pg)
            warm = [measure(pg, reload=True) for _ in range(a.runs)]
            c.close()
            browser.close()

        first = cold[0]
        assert all(r["articles"] >= a.messages for r in cold + warm), "the view did not show the history"
        result["weight"] = {"js_files": first["js_files"], "js_gzip_bytes": first["js_wire"], "js_raw_bytes": first["js_raw"],
                            "all_files_wire_bytes": first["all_wire"], "all_files_raw_bytes": first["all_raw"]}
        result["cold"] = {"channel_view": summary([r["view"] for r in cold]), "dom_content_loaded": summary([r["dom"] for r in cold])}
        result["warm"] = {"channel_view": summary([r["view"] for r in warm]), "dom_content_loaded": summary([r["dom"] for r in warm])}
    finally:
        server.stop()

    text = json.dumps(result, indent=2)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    w = result["weight"]
    print(f"\nJavaScript: {w['js_gzip_bytes']:,} bytes gzip ({w['js_raw_bytes']:,} raw) in {len(w['js_files'])} files; goal < 100 KB")
    for k in ("cold", "warm"):
        v = result[k]["channel_view"]
        print(f"navigation to channel view, {k}: median {v['median_ms']} ms, p90 {v['p90_ms']} ms over {v['runs']} runs; goal < 300 ms")


if __name__ == "__main__":
    main()
