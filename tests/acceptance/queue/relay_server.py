"""Start and stop a real `relay serve` on an ephemeral loopback port with a temp data dir."""

import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[3]
TOKEN = "relay-acceptance-token"

# Limits that only keep a broken server from hanging the run.
STARTUP_TIMEOUT = 60
STOP_TIMEOUT = 20

# Variables that would change the server's behaviour if they leaked in from the caller's shell.
SCRUBBED_ENV = (
    "RELAY_QUEUE_TOKEN", "RELAY_LISTEN", "SCIROCCO_MASTER_TOKEN", "SCIROCCO_PORT", "RELAY_TEST_HOOKS",
    "SCIROCCO_TEST_HOOKS", "SCIROCCO_MAX_KB_SIZE_JSON", "SCIROCCO_MAX_KB_SIZE_TEXT",
    "SCIROCCO_MAX_KB_SIZE_RAW", "SCIROCCO_MAX_GET_ALL_MESSAGES", "RELAY_STORE", "RELAY_DATA",
    "RELAY_CONFIG", "RELAY_METRICS_LISTEN", "RELAY_TLS_CERT", "RELAY_TLS_KEY", "RELAY_LOG_FORMAT",
)

LISTENING = re.compile(r"listening on (?:http://)?127\.0\.0\.1:(\d+)")


def relay_bin():
    return os.environ.get("RELAY_BIN") or str(REPO / "target" / "debug" / "relay")


class RelayServer:
    """One `relay serve` process. `token=None` leaves the token to env or the token file."""

    def __init__(self, token=TOKEN, args=(), env=None):
        self.token_arg = token
        self.args = list(args)
        self.env = dict(env or {})
        self._tmp = tempfile.mkdtemp(prefix="relay-queue-acceptance-")
        self.data_dir = os.path.join(self._tmp, "data")
        self.proc = None
        self.port = None
        self.log = []

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def token(self):
        if self.token_arg is not None:
            return self.token_arg
        for name in ("RELAY_QUEUE_TOKEN", "SCIROCCO_MASTER_TOKEN"):
            if name in self.env:
                return self.env[name]
        return self.token_file()

    def token_file(self):
        path = os.path.join(self.data_dir, "queue-token")
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return f.read().strip()

    def start(self):
        cmd = [relay_bin(), "serve", "--listen", "127.0.0.1:0", "--data", self.data_dir]
        if self.token_arg is not None:
            cmd += ["--queue-token", self.token_arg]
        cmd += self.args
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        env.update(self.env)
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     errors="replace")
        found = threading.Event()

        def drain():
            for line in self.proc.stderr:
                self.log.append(line)
                m = LISTENING.search(line)
                if m and not found.is_set():
                    self.port = int(m.group(1))
                    found.set()

        threading.Thread(target=drain, daemon=True).start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not found.wait(0.1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("relay serve did not start (%s); stderr:\n%s"
                                   % (" ".join(cmd), "".join(self.log)))
        return self

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def stderr(self):
        return "".join(self.log)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
