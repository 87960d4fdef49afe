"""Helpers for driving `relay serve` and raw WebSocket clients from the acceptance tests."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
import uuid

import websockets

RELAY_BIN = os.environ.get("RELAY_BIN", "")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `relay serve` process on a fixed port, restartable with the same data directory."""

    # For a server started with --tls-cert: the context that trusts its CA, used by `call`.
    ssl_context = None

    def __init__(self, data_dir, *extra_args):
        self.data = str(data_dir)
        self.port = free_port()
        self.extra = list(extra_args)
        self.proc = None
        self.log_path = os.path.join(self.data, "server.log")
        self.log_lines = []

    @property
    def http(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self):
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self):
        os.makedirs(self.data, exist_ok=True)
        cmd = [RELAY_BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--data", self.data, "--queue-token", "x", *self.extra]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError(f"relay serve exited: {self.proc.wait()}")
            self.log_lines.append(line)
            if "listening on" in line:
                break
        else:
            raise RuntimeError("relay serve did not start")
        proc = self.proc
        threading.Thread(target=self._drain, args=(proc,), daemon=True).start()

    def _drain(self, proc):
        for line in proc.stderr:
            self.log_lines.append(line)

    def log(self):
        return "".join(self.log_lines)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def crash(self):
        """Stops the server the way a crash or `kill -9` does: no close frames, no clean stop."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self, crash=False):
        """Stops the server (cleanly, or with SIGKILL if `crash`) and starts it again on the same
        port and data directory."""
        self.crash() if crash else self.stop()
        self.start()

    def add_account(self, email, password, name=None):
        cmd = [RELAY_BIN, "account", "add", email, "--password", password, "--data", self.data]
        if name:
            cmd += ["--name", name]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60)
        return out.stdout

    def call(self, method, path, body=None, token=None, raw=False):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.http + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
            req.add_header("Auth-Origin", "cognito")
        try:
            with urllib.request.urlopen(req, timeout=10, context=self.ssl_context) as r:
                text, ctype = r.read(), r.headers.get("Content-Type")
        except urllib.error.HTTPError as e:
            text, ctype = e.read(), e.headers.get("Content-Type")
        if raw:
            return text, ctype
        assert ctype and ctype.startswith("application/json"), (path, ctype)
        return json.loads(text)

    def ok(self, method, path, body=None, token=None):
        r = self.call(method, path, body, token)
        assert r["code"] == 10000, (path, r)
        return r["data"]

    def sign_in(self, email, password):
        d = self.ok("POST", "/auth/sign_in", {"username": email, "password": password})
        return d["AuthenticationResult"]["AccessToken"]


def rid():
    return str(uuid.uuid4())


class Raw:
    """A bare WebSocket client that records every frame it receives."""

    def __init__(self, url):
        self.url = url
        self.ws = None
        self.frames = []
        self.new = asyncio.Event()
        self.closed = None
        self._task = None

    async def open(self, **kw):
        self.ws = await websockets.connect(self.url, open_timeout=10, **kw)
        self._task = asyncio.create_task(self._pump())
        return self

    async def _pump(self):
        try:
            async for msg in self.ws:
                self.frames.append(json.loads(msg) if isinstance(msg, str) else msg)
                self.new.set()
        except websockets.ConnectionClosed:
            pass
        self.closed = (self.ws.close_code, self.ws.close_reason)
        self.new.set()

    async def send(self, obj):
        await self.ws.send(obj if isinstance(obj, (str, bytes)) else json.dumps(obj))

    async def request(self, obj, timeout=5):
        """Sends a frame with a fresh request_id and returns the copy acknowledging it."""
        obj = dict(obj)
        obj.setdefault("request_id", rid())
        await self.send(obj)
        return await self.wait(lambda f: f.get("type") == "copy" and f["body"]["request_id"] == obj["request_id"], timeout)

    async def wait(self, pred, timeout=5):
        deadline = asyncio.get_running_loop().time() + timeout
        seen = 0
        while True:
            for f in self.frames[seen:]:
                if isinstance(f, dict) and pred(f):
                    return f
            seen = len(self.frames)
            if self.closed is not None:
                raise AssertionError(f"socket closed {self.closed} while waiting; frames: {self.frames[-5:]}")
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"timed out; last frames: {self.frames[-5:]}")
            self.new.clear()
            try:
                await asyncio.wait_for(self.new.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def wait_closed(self, timeout=10):
        await asyncio.wait_for(self._task, timeout)
        return self.closed

    def of_type(self, t, subtype=None):
        return [f for f in self.frames if isinstance(f, dict) and f.get("type") == t and (subtype is None or f["body"].get("subtype") == subtype)]

    async def quiet(self, seconds=0.5):
        """Waits and returns the frames that arrived meanwhile."""
        n = len(self.frames)
        await asyncio.sleep(seconds)
        return self.frames[n:]

    async def login_user(self, token):
        return await self.request({"type": "user_login", "auth_origin": "cognito", "access_token": token})

    async def login_service(self, token, service_id):
        return await self.request({"type": "service_login", "auth_origin": "cognito", "access_token": token, "service_id": service_id})

    async def close(self):
        if self.ws:
            await self.ws.close()
        if self._task:
            try:
                await asyncio.wait_for(self._task, 5)
            except (Exception, asyncio.CancelledError):
                # A test may have cancelled the reader on purpose (a client that stops reading).
                pass


def assert_frame_shape(f):
    """Checklist 4: every frame the server sends has a string type, an object body, no
    top-level message key, and string request_id/user_id when present."""
    assert isinstance(f.get("type"), str), f
    assert isinstance(f.get("body"), dict), f
    assert "message" not in f, f
    for k in ("request_id", "user_id"):
        if k in f:
            assert isinstance(f[k], str), f
    for k in ("user_id", "service_id"):
        assert k not in f["body"], f
