"""Runs one 2.1.3-client call and prints its result as JSON, for tests that mix client versions.

`v2_node.py URL TOKEN NODE OP [ARG...]` with OP one of:
  push DEST JSON_PAYLOAD [PAYLOAD_TYPE] | push-bytes DEST BASE64 [PAYLOAD_TYPE]
  pull | ack ID | get ID | get-all | update ID JSON_PAYLOAD | delete-one ID | delete-all
Prints {"ok": true, "result": ...} or {"ok": false, "error": "..."}; a response is
{"metadata": {...}, "payload": ...}, with bytes payloads as {"bytes_b64": "..."}.
"""

import base64
import json
import sys

from checks import check_loopback


def encode_payload(p):
    if isinstance(p, bytes):
        return {"bytes_b64": base64.b64encode(p).decode()}
    return p


def encode(res):
    if res is None:
        return None
    if isinstance(res, list):
        return [encode(r) for r in res]
    meta = {k.lstrip("_"): v for k, v in res.metadata.__dict__.items()}
    return {"metadata": meta, "payload": encode_payload(res.payload)}


def main(argv):
    from v2_dao import V2Client, message

    url, token, node, op, args = argv[0], argv[1], argv[2], argv[3], argv[4:]
    c = V2Client(url, node, token)
    calls = {
        "push": lambda: c.push(message(args[0], json.loads(args[1]), *args[2:3])),
        "push-bytes": lambda: c.push(message(args[0], base64.b64decode(args[1]), *args[2:3])),
        "pull": c.pull,
        "ack": lambda: c.ack(args[0]),
        "get": lambda: c.get(args[0]),
        "get-all": c.get_all,
        "update": lambda: c.update_one(args[0], json.loads(args[1])),
        "delete-one": lambda: c.delete_one(args[0]),
        "delete-all": c.delete_all,
    }
    try:
        out = {"ok": True, "result": encode(calls[op]())}
    except Exception as e:
        out = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(out))


if __name__ == "__main__":
    check_loopback(sys.argv[1])
    main(sys.argv[1:])
