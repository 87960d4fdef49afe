"""Checklist item 16 with the real 1.0.0 client: the type label is stored and echoed as given.

Python's http.client sends header values as latin-1, so a label such as "café" reaches the
server as the byte 0xE9; the original stored and echoed it unchanged.
"""

import secrets

from sciroccoclient.httpclient import HTTPClient


def test_item_16_ascii_labels_round_trip(server):
    s_id, r_id = secrets.token_hex(4), secrets.token_hex(4)
    sender, receiver = HTTPClient(server.url, s_id, server.token), HTTPClient(server.url, r_id, server.token)
    for label in [".tar.gz", "application/pdf", "x" * 30]:
        assert sender.message_queue_push(r_id, b"\x00", label).system_data.data_type == label
        assert receiver.message_queue_pull().system_data.data_type == label


def test_item_16_latin1_label_round_trips(server):
    s_id, r_id = secrets.token_hex(4), secrets.token_hex(4)
    sender, receiver = HTTPClient(server.url, s_id, server.token), HTTPClient(server.url, r_id, server.token)
    assert sender.message_queue_push(r_id, b"\x00", "café").system_data.data_type == "café"
    assert receiver.message_queue_pull().system_data.data_type == "café"
