"""Checklist items 64-66 with the real clients: both generations share one queue.

A 1.0.0 node (v1 dialect, in this process) and a 2.1.3 node (v2 dialect, in the v2 venv) push to
each other; each side sees the messages under its own header names and JSON keys.
"""

import base64
import secrets

from sciroccoclient.httpclient import HTTPClient

BLOB = b"\x00\x01mixed\xff"


def test_v1_pushes_v2_pulls_and_acks(server, v2_node):
    v1_id, v2_id = secrets.token_hex(4), secrets.token_hex(4)
    v1 = HTTPClient(server.url, v1_id, server.token)
    v2 = v2_node(v2_id)
    pushed = [v1.message_queue_push(v2_id, {"from": "v1", "n": 1}),
              v1.message_queue_push(v2_id, "plain text from v1"),
              v1.message_queue_push(v2_id, BLOB, ".bin")]
    ids = [p.system_data.id for p in pushed]

    pulled = [v2.call("pull") for _ in ids]
    assert [p["metadata"]["id"] for p in pulled] == ids
    assert [p["payload"] for p in pulled] == [
        {"from": "v1", "n": 1}, "plain text from v1", base64.b64encode(BLOB).decode()]
    for p in pulled:
        meta = p["metadata"]
        # v2 names are filled, so the server answered the v2 node in its own dialect (item 64).
        assert (meta["node_source"], meta["node_destination"]) == (v1_id, v2_id), meta
        assert (meta["status"], meta["tries"]) == ("processing", "1"), meta
    assert pulled[2]["metadata"]["payload_type"] == ".bin"
    assert v2.call("pull") is None

    for i in ids:
        assert v2.call("ack", i)["metadata"]["status"] == "processed"

    # The v1 sender reads the outcome in v1 names (item 65).
    got = v1.message_get(ids[0])
    assert (got.system_data.status, got.system_data.fromm, got.system_data.to) == ("processed", v1_id, v2_id)
    listing = v1.message_get_all()
    assert [m.system_data.id for m in listing] == ids
    assert [m.system_data.status for m in listing] == ["processed"] * 3

    v2_listing = v2.call("get-all")
    assert [m["metadata"]["id"] for m in v2_listing] == ids
    assert v2_listing[0]["metadata"]["node_source"] == v1_id
    assert v2_listing[2]["payload"] == base64.b64encode(BLOB).decode()


def test_v2_pushes_v1_pulls_and_acks(server, v2_node):
    v1_id, v2_id = secrets.token_hex(4), secrets.token_hex(4)
    v1 = HTTPClient(server.url, v1_id, server.token)
    v2 = v2_node(v2_id)
    first = v2.call("push", v1_id, '{"from": "v2"}')
    second = v2.call("push-bytes", v1_id, base64.b64encode(BLOB).decode(), "application/pdf")
    assert first["metadata"]["status"] == "pending"

    a = v1.message_queue_pull()
    assert (a.message_data, a.system_data.id) == ({"from": "v2"}, first["metadata"]["id"])
    assert (a.system_data.fromm, a.system_data.to, a.system_data.status) == (v2_id, v1_id, "processing")
    b = v1.message_queue_pull()
    assert b.message_data == base64.b64encode(BLOB).decode()
    assert b.system_data.data_type == "application/pdf"
    assert v1.message_queue_pull() is None

    assert v1.message_queue_ack(a.system_data.id).system_data.status == "processed"
    assert v2.call("get", a.system_data.id)["metadata"]["status"] == "processed"
    assert v2.call("get", second["metadata"]["id"])["metadata"]["status"] == "processing"


def test_dialect_permissions_follow_the_caller(server, v2_node):
    """A v1 receiver may delete what it received (v1 rules); a v2 receiver may not (v2 rules)."""
    s_id, v1_r, v2_r = (secrets.token_hex(4) for _ in range(3))
    v1_sender = HTTPClient(server.url, s_id, server.token)
    to_v1 = v1_sender.message_queue_push(v1_r, {"k": 1}).system_data.id
    to_v2 = v1_sender.message_queue_push(v2_r, {"k": 2}).system_data.id

    v1_receiver = HTTPClient(server.url, v1_r, server.token)
    assert v1_receiver.message_delete_one(to_v1).message_data == {"n": 1, "ok": 1}
    v2_receiver = v2_node(v2_r)
    assert v2_receiver.call("delete-one", to_v2)["payload"] == {"n": 0, "ok": 1}
    assert "404" in v2_receiver.call_raises("update", to_v2, '{"k": 3}')
    assert v1_sender.message_get(to_v2).message_data == {"k": 2}
