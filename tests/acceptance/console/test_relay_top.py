"""`relay top` on a real terminal (tmux): an operator's live view of a running `relay serve`,
which it finds through its data directory's token as `relay queue` does."""

import re
import subprocess
import threading

import pytest

from conftest import RELAY


@pytest.fixture
def server(tmp_path):
    data = tmp_path / "data"
    proc = subprocess.Popen([RELAY, "serve", "--listen", "127.0.0.1:0", "--data", str(data)],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    url = None
    for line in proc.stderr:
        m = re.search(r"listening on (\S+)", line)
        if m:
            url = "http://" + m.group(1)
            break
    assert url, "relay serve did not say where it listens"
    # Keep reading so the server never blocks on a full stderr pipe.
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    yield url, data
    proc.kill()
    proc.wait()


def relay(*args):
    r = subprocess.run([RELAY, *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_top_shows_a_queues_pending_count_and_quits_on_q(server, make_screen):
    url, data = server
    for i in range(3):
        relay("queue", "push", "--url", url, "--data", str(data), "--node", "af1", "--to", "bee5",
              f'{{"job": {i}}}')
    top = make_screen([RELAY, "top", "--url", url, "--data", str(data), "--interval", "0.2"],
                      ready=False)
    screen = top.wait_for(lambda s: re.search(r"│bee5\s+3\s+0\s+0", s), timeout=15,
                          what="the destination's row with 3 pending")
    assert "Channels" in screen and "Store" in screen
    # A pull moves one message to processing; the view follows without a key press.
    relay("queue", "pull", "--url", url, "--data", str(data), "--node", "bee5")
    top.wait_for(lambda s: re.search(r"│bee5\s+2\s+1\s+0", s), timeout=15,
                 what="2 pending and 1 processing")
    top.keys("q")
    assert top.wait_exit() == 0


def test_top_once_json_reports_the_counts(server):
    url, data = server
    relay("queue", "push", "--url", url, "--data", str(data), "--node", "af1", "--to", "cafe",
          '{"job": 1}')
    import json
    # The gauges are read from the queue once a second.
    for _ in range(30):
        snap = json.loads(relay("top", "--url", url, "--data", str(data), "--once", "--json",
                                "--interval", "0.2"))
        if "cafe" in snap["queues"]:
            break
    assert snap["queues"]["cafe"] == {"pending": 1.0, "processing": 0.0, "processed": 0.0}
    assert snap["queue_ops_total"]["push"] == 1.0


def test_top_without_a_token_says_where_it_looked(tmp_path):
    r = subprocess.run([RELAY, "top", "--url", "http://127.0.0.1:9", "--data", str(tmp_path), "--once"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "no queue token" in r.stderr and str(tmp_path) in r.stderr
