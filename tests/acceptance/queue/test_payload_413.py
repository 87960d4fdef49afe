"""A body over `--max-payload` is answered 413, and Python's http.client reads that answer.

http.client sends the whole body before it reads the response: a server that closes while the
body still arrives makes it raise BrokenPipeError or ConnectionResetError instead. Relay answers
and then reads and discards the rest of the body before closing (a lingering close).
"""

import http.client
import json
import secrets

from relay_server import RelayServer

MIB = 1024 * 1024


def push(server, body, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        c.request("POST", "/messageQueue", body=body, headers={
            "Authorization": server.token,
            "Scirocco-From": secrets.token_hex(4),
            "Scirocco-To": secrets.token_hex(4),
            "Content-Type": "application/octet-stream",
            **(headers or {}),
        })
        r = c.getresponse()
        return r.status, r.getheader("Connection"), r.read()
    finally:
        c.close()


def test_a_17_mib_push_reads_back_as_413():
    with RelayServer() as s:
        status, connection, body = push(s, b"x" * (17 * MIB))
        assert status == 413, body
        assert json.loads(body)["message"], body
        assert connection == "close"
        # The server is fine after it, and a push within the limit goes through.
        status, _, body = push(s, b"y" * 1000)
        assert status == 201, body


def test_a_chunked_body_over_the_limit_reads_back_as_413():
    with RelayServer(args=["--max-payload", str(1 * MIB)]) as s:
        # A generator has no length: http.client sends it chunked.
        chunks = (b"z" * (256 * 1024) for _ in range(12))
        status, _, body = push(s, chunks)
        assert status == 413, body


def test_a_channel_api_body_over_its_limit_reads_back_as_413():
    with RelayServer() as s:
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
        c.request("POST", "/auth/sign_in", body=b"{" + b" " * (8 * MIB) + b"}",
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        body = r.read()
        c.close()
        assert r.status == 413, body
        assert json.loads(body)["code"] == 41300, body
