"""The scirocco-pyclient README journey, as a user types it, against Relay.

Same calls, node id and `http://localhost` style base URL as the README; only the port and the
token are Relay's (the README's DEFAULT_TOKEN is what SCIROCCO_MASTER_TOKEN=DEFAULT_TOKEN gives).
"""

import base64

from sciroccoclient.httpclient import HTTPClient

from relay_server import RelayServer


def test_readme_push_pull_ack(tmp_path):
    with RelayServer(token=None, env={"SCIROCCO_MASTER_TOKEN": "DEFAULT_TOKEN"}) as s:
        scirocco_client = HTTPClient("http://localhost:%d" % s.port, "af123", "DEFAULT_TOKEN")

        scirocco_client.message_queue_push("af123", {"type": "message"})
        scirocco_client.message_queue_push("af123", "message")
        binfile_path = tmp_path / "file.bin"
        binfile_path.write_bytes(bytes(range(256)))
        binfile = open(binfile_path, "rb").read()
        scirocco_client.message_queue_push("af123", binfile)

        received = []
        while True:
            response_object = scirocco_client.message_queue_pull()
            if response_object is None:
                break
            fields = response_object.system_data.__dict__
            assert fields["_status"] == "processing", fields
            assert fields["_id"] and fields["_created_time"], fields
            received.append(response_object)
        assert [r.message_data for r in received] == [
            {"type": "message"}, "message", base64.b64encode(binfile).decode()]

        # "Confirming messages": ack by the id saved from the pull.
        for r in received:
            confirmed = scirocco_client.message_queue_ack(r.system_data.id)
            assert confirmed.system_data.status == "processed"
        assert scirocco_client.message_queue_pull() is None
        assert [m.system_data.status for m in scirocco_client.message_get_all()] == ["processed"] * 3
