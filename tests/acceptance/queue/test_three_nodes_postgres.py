"""Three `relay serve --store postgres://…` nodes on one database with the real clients: the
1.0.0 client and the 2.1.3 client push on node A, pull on B, ack on C and read on A.

Runs only when RELAY_TEST_POSTGRES names a server (tests/acceptance/postgres/run sets it
through scripts/with-postgres); each test uses a schema of its own.
"""

import os
import secrets

import pytest
from sciroccoclient.httpclient import HTTPClient

from conftest import V2Node
from relay_server import RelayServer

BASE = os.environ.get("RELAY_TEST_POSTGRES")
pytestmark = pytest.mark.skipif(not BASE, reason="RELAY_TEST_POSTGRES is not set")


@pytest.fixture
def nodes():
    sep = "&" if "?" in (BASE or "") else "?"
    url = "%s%sschema=relay_py_%s" % (BASE, sep, secrets.token_hex(4))
    servers = [RelayServer(args=["--store", url]) for _ in range(3)]
    try:
        for s in servers:
            s.start()
        yield servers
    finally:
        for s in servers:
            s.cleanup()


def test_v1_client_push_on_a_pull_on_b_ack_on_c_read_on_a(nodes):
    a, b, c = nodes
    sender, receiver = secrets.token_hex(4), secrets.token_hex(4)
    pushed = HTTPClient(a.url, sender, a.token).message_queue_push(receiver, {"n": 1})
    pulled = HTTPClient(b.url, receiver, b.token).message_queue_pull()
    assert (pulled.system_data.id, pulled.message_data) == (pushed.system_data.id, {"n": 1})
    assert pulled.system_data.status == "processing"
    assert HTTPClient(a.url, receiver, a.token).message_queue_pull() is None
    acked = HTTPClient(c.url, receiver, c.token).message_queue_ack(pulled.system_data.id)
    assert acked.system_data.status == "processed"
    got = HTTPClient(a.url, sender, a.token).message_get(pushed.system_data.id)
    assert (got.system_data.status, got.message_data) == ("processed", {"n": 1})


def test_v2_client_push_on_a_pull_on_b_ack_on_c_read_on_a(nodes):
    a, b, c = nodes
    sender, receiver = secrets.token_hex(4), secrets.token_hex(4)
    pushed = V2Node(a, sender).call("push", receiver, '{"from": "v2"}')
    pulled = V2Node(b, receiver).call("pull")
    assert pulled["metadata"]["id"] == pushed["metadata"]["id"]
    assert pulled["payload"] == {"from": "v2"}
    assert V2Node(c, receiver).call("ack", pushed["metadata"]["id"])["metadata"]["status"] == "processed"
    got = V2Node(a, sender).call("get", pushed["metadata"]["id"])
    assert got["metadata"]["status"] == "processed"
