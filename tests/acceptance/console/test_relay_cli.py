"""`relay` offers the same command line as `moulti` (alias moulti=relay)."""

import subprocess
import time

from conftest import RELAY


def ok(r):
    assert r.returncode == 0, f"exit {r.returncode}: {r.stdout} {r.stderr}"
    return r


def test_relay_client_commands(screen):
    ok(screen.relay("wait", "-m", "5", "-d", "10"))
    ok(screen.relay("step", "add", "r1", "--title", "From relay", "-tt", "relay top", "-Mh", "5"))
    screen.wait_for("From relay")
    ok(screen.relay("step", "append", "r1", "one", "two"))
    screen.wait_for("two")
    ok(screen.relay("pass", "r1", input="\n".join(f"n{i}" for i in range(20)) + "\n"))
    text = screen.wait_for("n19")
    assert "n14" not in text and "n15" in text, "max height 5 shows the last 5 lines"
    ok(screen.relay("divider", "add", "rd", "--title", "relay divider"))
    screen.wait_for("relay divider")
    ok(screen.relay("set", "--title", "Relay title", "--progress-bar", "-pt", "4", "-p", "+1"))
    screen.wait_for("25%")
    r = screen.relay("step", "update", "nope", "--title", "x")
    assert r.returncode == 1 and "Something went wrong: unknown id: nope" in r.stderr
    ok(screen.relay("buttonquestion", "add", "bq", "--text", "Go?", "-b", "go", "success", "Go", "-b", "stop", "error", "Stop"))
    screen.wait_for("Stop")
    waiter = subprocess.Popen([RELAY, "buttonquestion", "get-answer", "bq", "--wait"],
                              env=screen.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    screen.keys("C-y")
    time.sleep(0.2)
    screen.keys("Enter")
    out, err = waiter.communicate(timeout=10)
    assert waiter.returncode == 0 and out.strip() == "go", err
    ok(screen.relay("step", "delete", "r1"))
    ok(screen.relay("divider", "delete", "rd"))
    r = screen.relay("step", "delete", "rd")
    assert r.returncode == 1 and "Error: unknown id: rd" in r.stderr
    screen.wait_for(lambda t: "From relay" not in t and "relay divider" not in t)
