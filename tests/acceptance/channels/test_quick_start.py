"""The quick start of docs/channels.md, followed as a new user types it: the shell commands and
the Python echo service are read from the document itself, so the test fails when the document
stops working. Only the port, the data directory and the channel id are filled in."""

import os
import pathlib
import re
import shlex
import subprocess
import sys
import threading
import time

from relaytest import RELAY_BIN, Server, free_port

DOC = pathlib.Path(__file__).resolve().parents[3] / "docs" / "channels.md"


def quick_start_blocks():
    section = DOC.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(sh|python)\n(.*?)```", section, re.S)


def shell_commands(block, fill):
    """Each command of a shell block as (argv, in_background), placeholders filled in first;
    comments and continuations handled as a shell would."""
    out = []
    for line in block.replace("\\\n", " ").splitlines():
        argv = shlex.split(fill(line), comments=True)
        if not argv:
            continue
        background = argv[-1] == "&"
        out.append((argv[:-1] if background else argv, background))
    return out


class Lines:
    """Collects a process's output lines as they come."""

    def __init__(self, stream):
        self.lines = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line)

    def wait_for(self, needle, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(needle in l for l in self.lines):
                return
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} did not appear within {timeout} s; got: {''.join(self.lines)[-2000:]}")


def test_the_documented_quick_start_works(tmp_path):
    port = free_port()
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "share"))
    channel = None
    procs = []

    def fill(arg):
        arg = arg.replace("127.0.0.1:7720", f"127.0.0.1:{port}")
        return arg.replace("<channel id>", channel) if channel else arg

    def run(argv, background):
        argv = [RELAY_BIN if argv[0] == "relay" else argv[0]] + argv[1:]
        if argv[1] == "serve":
            p = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            procs.append(p)
            Lines(p.stderr).wait_for("listening on", 30)
            return None
        if background:
            p = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            procs.append(p)
            return Lines(p.stdout)
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
        return done.stdout

    try:
        blocks = quick_start_blocks()
        assert [kind for kind, _ in blocks] == ["sh", "python", "sh"], "the quick start changed shape"
        # 1-3: accounts, the server, a channel created from the terminal.
        for argv, background in shell_commands(blocks[0][1], fill):
            out = run(argv, background)
            if argv[1:3] == ["account", "list"]:
                assert "owner@example.com" in out and "me@example.com" in out, out
            if argv[1:3] == ["channel", "create"]:
                channel = out.strip().split()[-1]
        assert channel, "relay channel create printed no channel id"

        # The echo service, as printed in the document.
        service_py = tmp_path / "echo_service.py"
        service_py.write_text(fill(blocks[1][1]))
        svc = subprocess.Popen([sys.executable, str(service_py)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(svc)
        svc_out = Lines(svc.stdout)
        # A user waits for the service to come up; here: until it has bound the channel.
        owner = Server.__new__(Server)
        owner.port = port
        t_owner = owner.sign_in("owner@example.com", "owner-secret")
        deadline = time.time() + 60
        while not any(channel in s["channel_ids"] for s in owner.ok("GET", "/service/list", token=t_owner)):
            if svc.poll() is not None or time.time() > deadline:
                raise AssertionError("the echo service did not bind the channel: " + "".join(svc_out.lines)[-3000:])
            time.sleep(0.5)

        # The user's side: log in, join, watch in the background, say hello to the service.
        watch = None
        for argv, background in shell_commands(blocks[2][1], fill):
            out = run(argv, background)
            if background:
                watch = out
                watch.wait_for("watching", 20)
        assert watch is not None
        watch.wait_for("hello (echo)", 30)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
