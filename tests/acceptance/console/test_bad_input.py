"""Bad input over the socket: each gets a clear error reply, the TUI keeps running and other
clients are served."""

import json
import os
import socket
import time

import pytest


def connect(screen):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    import pwd
    user = pwd.getpwuid(os.getuid()).pw_name
    s.connect(f"\0moulti-{user}-{screen.name}.socket")
    s.settimeout(10)
    return s


def frame(payload: bytes) -> bytes:
    return b":JSON:%013d:" % len(payload) + payload


def read_reply(s):
    buf = b""
    while len(buf) < 20:
        chunk = s.recv(20 - len(buf))
        if not chunk:
            return None
        buf += chunk
    n = int(buf[6:19])
    payload = b""
    while len(payload) < n:
        payload += s.recv(n - len(payload))
    return json.loads(payload)


CASES = [
    (b":JSON:00000000000x1:{", "invalid preamble"),
    (b":TXT_:0000000000002:{}", "unsupported message type"),
    (frame(b"{not json"), "not valid JSON"),
    (b":JSON:9999999999999:", "exceeds the limit"),
]


@pytest.mark.parametrize("data,expected", CASES)
def test_bad_frames_get_an_error_and_the_screen_lives_on(screen, data, expected):
    s = connect(screen)
    s.sendall(data)
    reply = read_reply(s)
    assert reply["done"] is False and expected in reply["error"]
    assert s.recv(1) == b"", "connection closed after a framing error"
    r = screen.cli("step", "add", "after", "--title", "still alive")
    assert r.returncode == 0
    screen.wait_for("still alive")


def test_unknown_command_duplicate_id_and_non_object(screen):
    s = connect(screen)
    s.sendall(frame(b'{"msgid": "x", "command": "frob"}'))
    assert read_reply(s) == {"msgid": "x", "done": False, "error": "unknown command frob"}
    s.sendall(frame(b"[1, 2]"))
    assert "must be a JSON object" in read_reply(s)["error"]
    s.sendall(frame(b'{"msgid": "a", "command": "step", "action": "add", "id": "d", "collapsed": false}'))
    assert read_reply(s)["done"] is True
    s.sendall(frame(b'{"msgid": "b", "command": "step", "action": "add", "id": "d"}'))
    assert read_reply(s)["error"] == "id d already in use"


def test_client_vanishing_mid_frame(screen):
    s = connect(screen)
    s.sendall(b":JSON:0000000000100:{\"command\"")
    s.close()
    r = screen.cli("step", "add", "ok", "--title", "served after vanishing client")
    assert r.returncode == 0
    screen.wait_for("served after vanishing client")


def test_unreadable_descriptor(screen):
    r = screen.cli("step", "add", "w", "--title", "target")
    assert r.returncode == 0
    rd, wr = os.pipe()
    s = connect(screen)
    msg = frame(b'{"msgid": "p", "command": "pass", "id": "w"}')
    socket.send_fds(s, [msg], [wr])
    reply = read_reply(s)
    os.close(rd)
    os.close(wr)
    assert reply["done"] is False and "not open for reading" in reply["error"]
    assert screen.cli("wait", "-m", "1").returncode == 0


def test_bad_min_height_does_not_crash(screen):
    # 41
    r = screen.send_to_moulti({"command": "step", "action": "add", "id": "crash", "min_height": "abc"})
    assert r["done"] is False and "invalid literal for int()" in r["error"]
    time.sleep(0.2)
    assert screen.cli("wait", "-m", "1").returncode == 0


def test_foreign_uid_refused_unless_allowed(make_screen):
    # 4: the peer is `relay wait` running as nobody (uid/gid 65534), from a copy of the
    # binary in a directory that user can reach.
    if os.getuid() != 0:
        pytest.skip("needs root to connect as another uid")
    import pwd
    import shutil
    import subprocess
    import tempfile
    from conftest import RELAY
    user = pwd.getpwuid(os.getuid()).pw_name
    bindir = tempfile.mkdtemp(prefix="relay-nobody-")
    os.chmod(bindir, 0o755)
    relay = shutil.copy(RELAY, os.path.join(bindir, "relay"))
    os.chmod(relay, 0o755)

    def as_nobody(name):
        env = {"PATH": "/usr/bin:/bin", "MOULTI_SOCKET_PATH": f"@moulti-{user}-{name}.socket"}
        return subprocess.run([relay, "wait", "-v", "-m", "1"], env=env, capture_output=True, text=True, timeout=20,
                              cwd="/", preexec_fn=lambda: (os.setgid(65534), os.setuid(65534)))

    try:
        refused = make_screen()
        out = as_nobody(refused.name)
        assert out.returncode == 1, out.stdout + out.stderr
        allowed = make_screen(env={"MOULTI_ALLOWED_UID": "65534"})
        out = as_nobody(allowed.name)
        assert out.returncode == 0, out.stdout + out.stderr
    finally:
        shutil.rmtree(bindir, ignore_errors=True)
