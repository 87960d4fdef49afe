"""RELAY_METRICS_LISTEN on a console: its own process serves `relay_console_steps` at
/metrics while the real moulti CLI adds and deletes steps."""

import socket
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def steps(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith("relay_console_steps "):
            return float(line.split()[1])
    raise AssertionError(f"no relay_console_steps in:\n{text}")


def wait_steps(port, want):
    deadline = time.monotonic() + 10
    while steps(port) != want:
        assert time.monotonic() < deadline, f"relay_console_steps stayed at {steps(port)}, not {want}"
        time.sleep(0.05)


def test_the_console_counts_its_steps_in_metrics(make_screen):
    port = free_port()
    screen = make_screen(env={"RELAY_METRICS_LISTEN": f"127.0.0.1:{port}"})
    assert steps(port) == 0
    for name in ("one", "two", "three"):
        r = screen.cli("step", "add", name, "--title", name)
        assert r.returncode == 0, r.stderr
    wait_steps(port, 3)
    r = screen.cli("step", "delete", "two")
    assert r.returncode == 0, r.stderr
    wait_steps(port, 2)
    screen.wait_for("one")
