"""Fixtures of the web page's suite: one headless Chromium per suite (Debian's, never a
downloaded one), one `relay serve` with a real Moobius SDK echo service per module."""

import asyncio
import os
import sys
import threading
import time

import pytest

# The channel suite's helpers: the server driver and the SDK's ws:// shim.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "channels"))

from relaytest import Server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


pytest_plugins = ["sdk_session"]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class ServiceThread:
    """Runs an SDK service instance's `start()` in its own thread and event loop."""

    def __init__(self, make):
        self.make = make
        self.svc = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        self.svc = self.make()
        self.ready.set()
        try:
            loop.run_until_complete(self.svc.start())
        except BaseException:
            pass

    def start(self):
        self.thread.start()
        self.ready.wait(30)
        return self
