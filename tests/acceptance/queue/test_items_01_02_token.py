"""Checklist items 1-2 with the real 1.0.0 client, including Relay's token deviation.

Relay never falls back to the public DEFAULT_TOKEN: with no token configured it generates one
into DATA_DIR/queue-token. Setting SCIROCCO_MASTER_TOKEN=DEFAULT_TOKEN still works for users who
want the original default.
"""

import os
import secrets

import pytest
from sciroccoclient.exceptions import SciroccoHTTPDAOError
from sciroccoclient.httpclient import HTTPClient

from relay_server import RelayServer


def roundtrip(url, token):
    a, b = secrets.token_hex(4), secrets.token_hex(4)
    HTTPClient(url, a, token).message_queue_push(b, {"hello": "token"})
    got = HTTPClient(url, b, token).message_queue_pull()
    assert got is not None and got.message_data == {"hello": "token"}


def test_item_02_generated_token_file_works():
    with RelayServer(token=None) as s:
        token = s.token_file()
        assert token, "no DATA_DIR/queue-token after a start without any token"
        assert token != "DEFAULT_TOKEN"
        assert len(token) >= 16, "generated token %r is too short to be strong" % token
        roundtrip(s.url, token)
        with pytest.raises(SciroccoHTTPDAOError, match="403"):
            HTTPClient(s.url, "ab", "DEFAULT_TOKEN").message_queue_pull()
        if os.name == "posix":
            mode = os.stat(os.path.join(s.data_dir, "queue-token")).st_mode & 0o077
            assert mode == 0, "token file is readable by group/others (mode %o)" % mode


def test_item_02_generated_token_survives_restart():
    s = RelayServer(token=None)
    try:
        s.start()
        first = s.token_file()
        s.stop()
        s.start()
        assert s.token_file() == first
        roundtrip(s.url, first)
    finally:
        s.cleanup()


def test_item_02_scirocco_master_token_default_token():
    with RelayServer(token=None, env={"SCIROCCO_MASTER_TOKEN": "DEFAULT_TOKEN"}) as s:
        roundtrip(s.url, "DEFAULT_TOKEN")


def test_item_01_wrong_token_is_403(server):
    with pytest.raises(SciroccoHTTPDAOError, match="403"):
        HTTPClient(server.url, "ab", server.token + "x").message_queue_push("cd", {"a": 1})
    with pytest.raises(SciroccoHTTPDAOError, match="403"):
        HTTPClient(server.url, "ab", "Bearer " + server.token).message_get_all()
