"""Fixtures: a private tmux server running `relay init` (or `relay run`), and helpers to read
what a user sees on it."""

import itertools
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

RELAY = os.environ.get("RELAY_BIN") or shutil.which("relay")
HERE = Path(__file__).parent
WIDTH, HEIGHT = 120, 40
_counter = itertools.count()


def moulti_bin():
    """The real `moulti` CLI from the venv."""
    return shutil.which("moulti")


class Screen:
    """One instance in its own tmux session, with an instance name nobody else uses."""

    def __init__(self, tmp_path, command=None, env=None):
        self.name = f"acc{os.getpid()}x{next(_counter)}x{uuid.uuid4().hex[:6]}"
        self.server = f"relay-acc-{self.name}"
        self.env = dict(os.environ)
        self.env.pop("MOULTI_SOCKET_PATH", None)
        self.env.pop("MOULTI_RUN", None)
        self.env["MOULTI_INSTANCE"] = self.name
        self.env.update(env or {})
        self.cwd = tmp_path
        self.conf = "/dev/null"
        cmd = command or [RELAY, "init"]
        envs = " ".join(f"{k}={_q(v)}" for k, v in (env or {}).items())
        # The shell records the exit status itself: tmux sometimes takes long to reap a pane
        # whose process has exited, and the status is what the tests check.
        self.status_file = tmp_path / f"status-{self.name}"
        shell = (f"cd {_q(str(tmp_path))} && env MOULTI_INSTANCE={self.name} {envs} " + " ".join(_q(c) for c in cmd)
                 + f"; echo $? > {_q(str(self.status_file))}")
        # remain-on-exit comes from the config file so a pane that dies at once stays readable.
        self.conf = tmp_path / f"tmux-{self.name}.conf"
        self.conf.write_text("set -g remain-on-exit on\nset -g history-limit 5000\n")
        self.tmux("new-session", "-d", "-s", "main", "-x", str(WIDTH), "-y", str(HEIGHT), shell)

    def tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-L", self.server, "-f", str(self.conf), *args],
                              capture_output=True, text=True, check=check)

    def wait_ready(self):
        r = self.cli("wait", "--delay", "20", "--max-attempts", "1500")
        assert r.returncode == 0, f"{r.stdout}{r.stderr}\npane dead: {self.pane_dead()}\n{self.capture_joined()}"

    def capture(self):
        return self.tmux("capture-pane", "-p", "-t", "main").stdout

    def capture_joined(self):
        """Screen and scrollback with wrapped lines joined."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-100", "-t", "main").stdout

    def capture_ansi(self):
        return self.tmux("capture-pane", "-p", "-e", "-t", "main").stdout

    def wait_for(self, predicate, timeout=10.0, what=""):
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if (predicate(screen) if callable(predicate) else predicate in screen):
                return screen
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what or predicate!r}; screen was:\n{screen}")

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "main", *keys)

    def pane_dead(self):
        r = self.tmux("display", "-p", "-t", "main", "#{pane_dead} #{pane_dead_status} #{pane_dead_signal}", check=False)
        out = r.stdout.split()
        if not out:
            raise AssertionError(f"the tmux server of this test is gone: {r.stderr}")
        if len(out) > 1 and out[1]:
            return (out[0] == "1", int(out[1]))
        return (out[0] == "1", f"signal {out[2]}" if len(out) > 2 else None)

    def wait_exit(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status_file.exists() and self.status_file.read_text().strip():
                return int(self.status_file.read_text())
            dead, status = self.pane_dead()
            # tmux may flag the pane dead a moment before it records the status.
            if dead and status is not None:
                return status
            time.sleep(0.05)
        pid = self.tmux("display", "-p", "-t", "main", "#{pane_pid}", check=False).stdout.strip()
        ps = subprocess.run(["ps", "-o", "pid,ppid,stat,wchan:30,args", "--ppid", pid, "-p", pid], capture_output=True, text=True).stdout if pid else ""
        threads = subprocess.run(["bash", "-c", f"for t in /proc/{pid}/task/*; do echo $t $(cat $t/wchan) $(cat $t/comm); done"], capture_output=True, text=True).stdout if pid else ""
        raise AssertionError(f"instance did not exit; processes:\n{ps}\nthreads:\n{threads}\nscreen:\n" + self.capture())

    def cli(self, *args, input=None, prog=None, timeout=30):
        """Runs the real moulti CLI (or `prog`) against this instance."""
        prog = prog or moulti_bin()
        return subprocess.run([prog, *args], env=self.env, input=input, capture_output=True,
                              text=True, timeout=timeout)

    def relay(self, *args, **kw):
        return self.cli(*args, prog=RELAY, **kw)

    def python(self, script, timeout=30):
        return subprocess.run([shutil.which("python3") or "python3", str(script)], env=self.env,
                              capture_output=True, text=True, timeout=timeout, cwd=self.cwd)

    def send_to_moulti(self, message):
        """`moulti.client.send_to_moulti` in a fresh process (the module reads the socket
        address from the environment once, at import)."""
        code = "import json, sys\nfrom moulti.client import send_to_moulti\nprint(json.dumps(send_to_moulti(json.loads(sys.argv[1]))))"
        r = subprocess.run([shutil.which("python3") or "python3", "-c", code, json.dumps(message)], env=self.env,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def close(self):
        self.tmux("kill-server", check=False)


def _q(s):
    return "'" + str(s).replace("'", "'\\''") + "'"


@pytest.fixture
def screen(tmp_path):
    s = Screen(tmp_path)
    try:
        s.wait_ready()
        yield s
    finally:
        s.close()


@pytest.fixture
def make_screen(tmp_path):
    made = []

    def make(command=None, env=None, ready=True):
        s = Screen(tmp_path, command, env)
        made.append(s)
        if ready:
            s.wait_ready()
        return s

    yield make
    for s in made:
        s.close()
