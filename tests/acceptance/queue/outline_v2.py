"""Section 13 v2 outline: the scirocco-pyclient 2.1.3 DAO layer against a running server (15 checks).

Run with the v2 venv's python: `outline_v2.py URL TOKEN`. Output as for outline_v1.py.
"""

import base64
import datetime
import secrets
import sys
import time

from checks import Checks, attempt, check_loopback, eq, fail, raises

CHECKS = [
    "01_push_node_headers_echo", "02_push_pending_json_tries_0", "03_push_bytes_pdf_label",
    "04_push_scheduled_echo", "05_pull1_dict_processing", "06_pull2_base64", "07_pull3_not_due_none",
    "08_pull_after_due_text", "09_ack", "10_get_all_three", "11_get_all_v2_keys",
    "12_get_all_id_mapped", "13_sender_updates_pending", "14_receiver_update_404",
    "15_sender_delete_all_pending_only",
]

PDF = b"%PDF-1.4\x00\xff\xfe binary"
DICT = {"type": "message", "n": 1}
TEXT = "scheduled hello"
# Due a little later, so the third pull is reliably "too early"; the wait below is generous.
SCHEDULE_DELAY = datetime.timedelta(seconds=2)
DUE_WAIT = 2.5


def main(url, token):
    from v2_dao import V2Client, message

    s_id, r_id = secrets.token_hex(4), secrets.token_hex(4)
    S, R = V2Client(url, s_id, token), V2Client(url, r_id, token)
    ck = Checks(CHECKS)

    p1 = attempt(lambda: S.push(message(r_id, DICT)))
    ck.run("01_push_node_headers_echo", lambda: eq(
        (p1.metadata.node_source, p1.metadata.node_destination, p1.payload), (s_id, r_id, DICT)))
    ck.run("02_push_pending_json_tries_0", lambda: eq(
        (p1.metadata.status, p1.metadata.payload_type, p1.metadata.tries), ("pending", "application/json", "0")))
    p2 = attempt(lambda: S.push(message(r_id, PDF, "application/pdf")))
    ck.run("03_push_bytes_pdf_label", lambda: eq((p2.metadata.payload_type, p2.payload), ("application/pdf", PDF)))

    # Naive isoformat, exactly what the client sends for a naive datetime: read as UTC.
    when = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + SCHEDULE_DELAY
    p3 = attempt(lambda: S.push(message(r_id, TEXT, scheduled_time=when)))
    ck.run("04_push_scheduled_echo", lambda: eq(p3.metadata.status, "scheduled")
           and (bool(p3.metadata.scheduled_time) or fail(p3.metadata.__dict__)))

    q1 = attempt(R.pull)
    ck.run("05_pull1_dict_processing", lambda: eq((q1.payload, q1.metadata.status), (DICT, "processing"))
           and (bool(q1.metadata.processing_time) or fail(q1.metadata.__dict__)))
    q2 = attempt(R.pull)
    ck.run("06_pull2_base64", lambda: eq((q2.payload, q2.metadata.payload_type),
                                         (base64.b64encode(PDF).decode(), "application/pdf")))
    ck.run("07_pull3_not_due_none", lambda: eq(R.pull(), None))
    time.sleep(DUE_WAIT)
    q3 = attempt(R.pull)
    ck.run("08_pull_after_due_text", lambda: eq((q3.payload, q3.metadata.status), (TEXT, "processing")))

    ck.run("09_ack", lambda: eq(R.ack(q1.metadata.id).metadata.status, "processed"))

    all_ = attempt(S.get_all) or []
    ck.run("10_get_all_three", lambda: eq(len(all_), 3))
    ck.run("11_get_all_v2_keys", lambda: eq(
        [(m.metadata.node_source, m.metadata.node_destination, m.payload) for m in all_],
        [(s_id, r_id, DICT), (s_id, r_id, base64.b64encode(PDF).decode()), (s_id, r_id, TEXT)]))
    ck.run("12_get_all_id_mapped", lambda: eq(
        [m.metadata.id for m in all_], [p1.metadata.id, p2.metadata.id, p3.metadata.id]))

    p4 = attempt(lambda: S.push(message(r_id, {"v": 1})))
    ck.run("13_sender_updates_pending", lambda: eq(
        (S.update_one(p4.metadata.id, {"v": 2}).payload, S.get(p4.metadata.id).metadata.status),
        ({"v": 2}, "pending")))
    ck.run("14_receiver_update_404", lambda: raises(lambda: R.update_one(p4.metadata.id, {"v": 3}), 404))
    ck.run("15_sender_delete_all_pending_only", lambda: eq(S.delete_all().payload, {"n": 1, "ok": 1}))
    return ck.finish()


if __name__ == "__main__":
    check_loopback(sys.argv[1])
    sys.exit(main(sys.argv[1], sys.argv[2]))
