"""The real moobius 1.8.0 SDK on three `relay serve --store postgres://… --forward-to-owner`
nodes: the service on node A, one user on B and one on C. Joins, UI pushes, echoes and button
clicks cross nodes (the standbys relay them to the node serving the channel state). Then
`kill -9` and restart of A (the owner: another node takes the state over), then of B: every
instance logs in again where it was and carries on, and a resume on a node other than the one
that stored the messages finds each of them once.

Runs only when RELAY_TEST_POSTGRES names a server (tests/acceptance/postgres/run sets it through
scripts/with-postgres); RELAY_REQUIRE_POSTGRES=1 makes its absence a failure."""

import asyncio
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request

import pytest

import sdkshim
from conftest import run, until
from relaytest import RELAY_BIN, Raw, Server
from sdkshim import events
from test_sdk_scenario import EchoService, User, frames

BASE = os.environ.get("RELAY_TEST_POSTGRES")
if not BASE and os.environ.get("RELAY_REQUIRE_POSTGRES") == "1":
    raise RuntimeError("RELAY_REQUIRE_POSTGRES=1 but RELAY_TEST_POSTGRES is not set")
pytestmark = pytest.mark.skipif(not BASE, reason="RELAY_TEST_POSTGRES is not set")


def owns(node):
    """Whether `node` serves the channel state itself (a forwarded request is never forwarded
    again, so a standby answers one with 503)."""
    req = urllib.request.Request(node.http + "/user/info", headers={"relay-forwarded": "1"})
    try:
        urllib.request.urlopen(req, timeout=5)
    except urllib.error.HTTPError as e:
        return e.code == 401
    except OSError:
        return False
    return False


def wait_owner(nodes, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        owning = [n for n in nodes if n.proc is not None and owns(n)]
        if len(owning) == 1:
            return owning[0]
        time.sleep(0.1)
    raise AssertionError("no single node serves the channel state")


@pytest.fixture
def nodes(tmp_path):
    sep = "&" if "?" in BASE else "?"
    url = "%s%sschema=relay_sdk_nodes_%s" % (BASE, sep, secrets.token_hex(4))
    args = ("--store", url, "--forward-to-owner", "--trusted-proxy", "127.0.0.1")
    servers = [Server(tmp_path / name, *args) for name in "abc"]
    try:
        # A first, so that it is the owner the scenario starts with.
        servers[0].start()
        assert wait_owner(servers[:1]) is servers[0]
        for s in servers[1:]:
            s.start()
        yield url, servers
    finally:
        for s in servers:
            s.stop()


def add_account(url, node, email, password, name):
    subprocess.run(
        [RELAY_BIN, "account", "add", email, "--password", password, "--name", name, "--store", url, "--data", node.data],
        check=True, capture_output=True, text=True, timeout=60,
    )


def test_real_sdk_across_three_nodes_through_two_owner_changes(nodes):
    url, (a, b, c) = nodes
    for email, pw, name in [("owner@example.com", "owner-pw", "Owner"), ("u1@example.com", "u1-pw", "U1"), ("u2@example.com", "u2-pw", "U2")]:
        add_account(url, a, email, pw, name)
    # The channel is made through node C, which forwards to A.
    t_owner = c.sign_in("owner@example.com", "owner-pw")
    ch = c.ok("POST", "/channel/create", {"channel_name": "Echo", "context": {"channel_description": "three nodes"}}, t_owner)["channel_id"]

    uid = {}
    for i, (node, email, pw) in enumerate([(b, "u1@example.com", "u1-pw"), (c, "u2@example.com", "u2-pw")]):
        uid[i] = node.ok("GET", "/user/info", token=node.sign_in(email, pw))["user_id"]

    async def scenario():
        loop = asyncio.get_running_loop()
        svc = EchoService(**sdkshim.configs(a, "owner@example.com", "owner-pw", True, [ch]))
        svc_raw = sdkshim.record_raw(svc)
        tasks = [asyncio.create_task(svc.start())]
        await until(lambda: events(svc, "start"), 30, "service on_start")
        users, raws = [], [svc_raw]
        for node, email, pw in [(b, "u1@example.com", "u1-pw"), (c, "u2@example.com", "u2-pw")]:
            u = User(**sdkshim.configs(node, email, pw, False, [ch]))
            raws.append(sdkshim.record_raw(u))
            tasks.append(asyncio.create_task(u.start()))
            users.append(u)
        joins = await until(lambda: events(svc, "join") if len(events(svc, "join")) >= 2 else None, 30, "both joins")
        uids = {j.sender for j in joins}
        assert len(uids) == 2
        u1, u2 = users
        assert uids == set(uid.values())
        for u in users:
            await until(lambda: events(u, "buttons") and events(u, "canvas"), 20, "UI pushed across nodes")

        async def echo_round(label):
            """Each user sends a message until its echo comes back (the SDK may be replacing a
            socket just after a restart, and a message sent to the one it leaves is lost, as on
            the hosted platform)."""
            for i, u in enumerate(users):
                text = f"{label} from user {i}"
                deadline = loop.time() + 60
                while not any(e.content.text == text + " (echo)" for e in events(u, "message_down")):
                    assert loop.time() < deadline, f"no echo of {text!r}:\n" + "\n----\n".join(n.log()[-4000:] for n in (a, b, c))
                    await u.send_message(text, ch, uid[i], [uid[i]])
                    try:
                        await until(lambda: any(e.content.text == text + " (echo)" for e in events(u, "message_down")), 3, "echo")
                    except AssertionError:
                        pass

        await echo_round("first")
        # A button click on C's user reaches the service on A, whose canvas answer comes back.
        await u2.send_button_click("b1", "go", {"label": "n", "value": "7"}, ch)
        click = (await until(lambda: events(svc, "button_click"), 15, "button click across nodes"))[0]
        assert click.button_id == "b1" and click.sender == uid[1]
        await until(lambda: any(e.content[0].canvas_item.text == "Clicked b1 7" for e in events(u2, "canvas")), 15, "click canvas")

        def relogged(raw, n, kind):
            return [f for f in frames(raw, "copy", since=n) if f["body"]["origin_type"] == kind and f["body"]["status"] is True]

        # Which node each instance talks to: the service, user 0, user 1.
        homes = [a, b, c]

        async def crash_and_restart(node, label):
            """`kill -9` of `node`, and its restart. Who must log in again: everyone when it
            served the state (every socket ended with it), else whoever talks to it."""
            marks = [len(r) for r in raws]
            was_owner = owns(node)
            await loop.run_in_executor(None, node.crash)
            await loop.run_in_executor(None, lambda: wait_owner([n for n in (a, b, c) if n is not node]))
            await asyncio.sleep(0.5)
            await loop.run_in_executor(None, node.start)
            try:
                for i, (r, m) in enumerate(zip(raws, marks)):
                    if was_owner or homes[i] is node:
                        kind = "service_login" if i == 0 else "user_login"
                        await until(lambda: relogged(r, m, kind), 60, f"{kind} of instance {i} after {label}")
            except AssertionError:
                for name, n in zip("ABC", (a, b, c)):
                    print(f"---- node {name} ----\n{n.log()[-12000:]}")
                raise
            await echo_round(f"after {label}")

        # The owner first: B or C takes the state over, A comes back as a standby.
        await crash_and_restart(a, "the owner's kill -9")
        assert not owns(a)
        new_owner = wait_owner([a, b, c])
        assert "took over the channel state" in new_owner.log()
        # Then B, whichever role it has now.
        await crash_and_restart(b, "B's kill -9")

        await sdkshim.stop(tasks, [svc, *users], raws)
        # What user 0 was delivered live, by message id.
        return [f["body"]["message_id"] for f in frames(raws[1], "message_down")]

    live = run(scenario(), timeout=400)
    assert len(live) >= 3

    # A resume through node A, which has not served the state since its restart, of user 0's
    # whole history: every message delivered to it live is there, each once.
    async def resume_everything():
        t_u1 = a.sign_in("u1@example.com", "u1-pw")
        ws = await Raw(a.ws).open()
        assert (await ws.login_user(t_u1))["body"]["status"] is True
        offset = 0
        while True:
            copy = await ws.request({"type": "resume", "body": {"channel_id": ch, "from": offset}})
            assert copy["body"]["status"] is True, copy
            ctx = copy["body"]["context"]
            offset = ctx["next_offset"]
            if not ctx.get("more"):
                break
        resumed = [(f["body"]["message_id"], f["offset"]) for f in ws.of_type("message_down")]
        await ws.close()
        return resumed

    resumed = run(resume_everything())
    ids = [m for m, _ in resumed]
    offsets = [o for _, o in resumed]
    assert len(set(ids)) == len(ids), "a message resumed twice"
    assert offsets == sorted(set(offsets)), "offsets rise without repeats"
    missing = set(live) - set(ids)
    assert not missing, f"delivered live but not in the history: {missing}"
