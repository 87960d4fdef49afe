import asyncio
import sys

import pytest

from relaytest import Raw, Server, assert_frame_shape


pytest_plugins = ["sdk_session"]


class Accounts:
    """Three accounts on a server, signed in once (password hashing is deliberately slow)."""

    def __init__(self, server):
        s = server
        s.add_account("owner@example.com", "owner-pw", "Owner")
        s.add_account("alice@example.com", "alice-pw", "Alice")
        s.add_account("bob@example.com", "bob-pw", "Bob")
        self.t_owner = s.sign_in("owner@example.com", "owner-pw")
        self.t_alice = s.sign_in("alice@example.com", "alice-pw")
        self.t_bob = s.sign_in("bob@example.com", "bob-pw")
        self.owner = s.ok("GET", "/user/info", token=self.t_owner)["user_id"]
        self.alice = s.ok("GET", "/user/info", token=self.t_alice)["user_id"]
        self.bob = s.ok("GET", "/user/info", token=self.t_bob)["user_id"]


class World:
    """A running server with an owner (who owns a fresh service and a fresh channel bound to
    it, and an agent) and two other users, ready for raw WebSocket tests."""

    def __init__(self, server, accounts=None):
        self.s = server
        s = server
        a = accounts or Accounts(server)
        self.t_owner, self.t_alice, self.t_bob = a.t_owner, a.t_alice, a.t_bob
        self.owner, self.alice, self.bob = a.owner, a.alice, a.bob
        self.sid = s.ok("POST", "/service/create", {"description": "test service"}, self.t_owner)["service_id"]
        self.ch = s.ok("POST", "/channel/create", {"channel_name": "Main", "context": {"channel_description": "d"}}, self.t_owner)["channel_id"]
        s.ok("POST", "/service/bind", {"channel_id": self.ch, "service_id": self.sid}, self.t_owner)
        self.agent = s.ok("POST", "/service/character/create", {"service_id": self.sid, "context": {"name": "Bot", "avatar": None, "description": "a bot"}}, self.t_owner)["character_id"]
        self.clients = []

    def group(self, ids, token=None):
        return self.s.ok("POST", "/service/group/create", {"group_id": "", "characters": ids}, token or self.t_owner)

    async def raw(self):
        c = await Raw(self.s.ws).open()
        self.clients.append(c)
        return c

    async def service(self):
        c = await self.raw()
        copy = await c.login_service(self.t_owner, self.sid)
        assert copy["body"]["status"] is True, copy
        return c

    async def user(self, token, join_channel=None):
        c = await self.raw()
        copy = await c.login_user(token)
        assert copy["body"]["status"] is True, copy
        if join_channel:
            j = await c.request({"type": "action", "body": {"subtype": "join_channel", "channel_id": join_channel, "context": {}}})
            assert j["body"]["status"] is True, j
        return c

    async def close_all(self):
        for c in self.clients:
            for f in c.frames:
                if isinstance(f, dict):
                    assert_frame_shape(f)
            await c.close()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("relay") / "data")
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def accounts(module_server):
    return Accounts(module_server)


@pytest.fixture
def server(tmp_path):
    """A server of the test's own, for tests that need a clean slate."""
    s = Server(tmp_path / "data")
    s.start()
    yield s
    s.stop()


@pytest.fixture
def world(module_server, accounts):
    """A fresh service, channel and agent on the module's server; the server is restarted if a
    previous test left it stopped."""
    if module_server.proc is None or module_server.proc.poll() is not None:
        module_server.start()
    return World(module_server, accounts)


def run(coro, timeout=120):
    """Runs a test's coroutine (at most `timeout` seconds, 120 unless told) on a loop of its own.

    Unlike `asyncio.run`, it does not wait without limit for the tasks left over once the
    coroutine has returned or failed: the SDK leaves tasks behind (its listen and reconnect
    loops) that do not always end when cancelled, and waiting for them once hung a test whose
    every assertion had passed. They get 5 s after their cancellation, then the loop is closed.
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(asyncio.wait_for(coro, timeout))
    finally:
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        if left:
            _, stuck = loop.run_until_complete(asyncio.wait(left, timeout=5))
            for task in stuck:
                # Named, so that the SDK task that ignores its cancellation can be found.
                print(f"left running after cancellation: {task!r}", file=sys.stderr)
                task.print_stack(file=sys.stderr)
        loop.close()


async def until(pred, timeout=10, what="condition"):
    """Polls `pred` every 50 ms until it returns something truthy, which is returned."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        r = pred()
        if r:
            return r
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
