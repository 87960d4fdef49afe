"""Section 13 v1 outline: the real scirocco-pyclient 1.0.0 against a running server (50 checks).

Run with the v1 venv's python: `outline_v1.py URL TOKEN`. Prints one JSON line per check on
stdout and `N passed, M failed` on stderr; exit 1 on any failure. Refuses non-loopback URLs.
"""

import base64
import re
import secrets
import sys

from checks import Checks, attempt as _try, check_loopback, eq as _eq, fail as _fail, raises

CHECKS = [
    "01_delete_all_then_pull_none", "02_get_all_empty_none",
    "03_push_dict_echo", "04_push_id_24_hex", "05_push_to_from", "06_push_pending_tries_0",
    "07_push_data_type_json", "08_push_created_time", "09_push_absent_times",
    "10_push_text_echo", "11_push_text_data_type", "12_push_bytes_echo", "13_push_bytes_data_type",
    "14_push_json_string_echo", "15_push_json_string_data_type",
    "16_push_scalar_json_rejected", "17_push_non_hex_destination_rejected",
    "18_sender_pull_none", "19_pull1_dict", "20_pull1_processing_tries_1", "21_pull1_same_id",
    "22_pull1_times_set", "23_pull2_text", "24_pull3_base64", "25_pull3_data_type",
    "26_pull4_dict", "27_pull5_none",
    "28_sender_ack_404", "29_ack_processed", "30_ack_payload", "31_ack_again_404",
    "32_ack_unknown_404", "33_ack_other_three",
    "34_get_processed", "35_get_base64", "36_receiver_get", "37_other_get_404", "38_get_unknown_404",
    "39_get_all_four_in_order", "40_get_all_payloads", "41_get_all_first_fields",
    "42_get_all_tries_int",
    "43_update_payload", "44_update_time_and_status", "45_update_unknown_404",
    "46_delete_one", "47_delete_one_again", "48_delete_all_four", "49_get_all_after_delete_none",
    "50_wrong_token_pull_403",
]

UNKNOWN_ID = "0123456789abcdef01234567"
BYTES = b"\x00\x01\x02\xfe\xffscirocco\x80"
HEX24 = re.compile(r"^[0-9a-f]{24}$")


def main(url, token):
    from sciroccoclient.httpclient import HTTPClient

    s_id, r_id, o_id = (secrets.token_hex(4) for _ in range(3))
    S, R, O = (HTTPClient(url, n, token) for n in (s_id, r_id, o_id))
    ck = Checks(CHECKS)
    st = {}

    def c01():
        for client in (S, R, O):
            res = client.message_delete_all()
            assert res.message_data.get("ok") == 1, res.message_data
        assert R.message_queue_pull() is None
    ck.run("01_delete_all_then_pull_none", c01)
    ck.run("02_get_all_empty_none", lambda: S.message_get_all() is None)

    st["p1"] = p1 = _try(lambda: S.message_queue_push(r_id, {"type": "message", "n": 1}))
    sd = lambda: p1.system_data  # noqa: E731
    ck.run("03_push_dict_echo", lambda: _eq(p1.message_data, {"type": "message", "n": 1}))
    ck.run("04_push_id_24_hex", lambda: bool(HEX24.match(sd().id or "")) or _fail(sd().id))
    ck.run("05_push_to_from", lambda: _eq((sd().to, sd().fromm), (r_id, s_id)))
    ck.run("06_push_pending_tries_0", lambda: _eq((sd().status, sd().tries), ("pending", "0")))
    ck.run("07_push_data_type_json", lambda: _eq(sd().data_type, "application/json"))
    ck.run("08_push_created_time", lambda: bool(sd().created_time) or _fail(sd().created_time))
    ck.run("09_push_absent_times", lambda: _eq(
        [sd().update_time, sd().processing_time, sd().processed_time, sd().scheduled_time,
         sd().error_time], [None] * 5))

    st["p2"] = p2 = _try(lambda: S.message_queue_push(r_id, "hello scirocco"))
    ck.run("10_push_text_echo", lambda: _eq(p2.message_data, "hello scirocco"))
    ck.run("11_push_text_data_type", lambda: _eq(p2.system_data.data_type, "text/plain"))
    st["p3"] = p3 = _try(lambda: S.message_queue_push(r_id, BYTES, ".bin"))
    ck.run("12_push_bytes_echo", lambda: _eq(p3.message_data, BYTES))
    ck.run("13_push_bytes_data_type", lambda: _eq(p3.system_data.data_type, ".bin"))
    st["p4"] = p4 = _try(lambda: S.message_queue_push(r_id, '{"looks": "like json"}'))
    ck.run("14_push_json_string_echo", lambda: _eq(p4.message_data, {"looks": "like json"}))
    ck.run("15_push_json_string_data_type", lambda: _eq(p4.system_data.data_type, "application/json"))

    ck.run("16_push_scalar_json_rejected", lambda: raises(lambda: S.message_queue_push(r_id, "123"), 400))
    ck.run("17_push_non_hex_destination_rejected",
           lambda: raises(lambda: S.message_queue_push("not-hex!", {"a": 1}), 400))

    ids = [_id_of(st[k]) for k in ("p1", "p2", "p3", "p4")]
    ck.run("18_sender_pull_none", lambda: S.message_queue_pull() is None)
    q1 = _try(R.message_queue_pull)
    ck.run("19_pull1_dict", lambda: _eq(q1.message_data, {"type": "message", "n": 1}))
    ck.run("20_pull1_processing_tries_1",
           lambda: _eq((q1.system_data.status, q1.system_data.tries), ("processing", "1")))
    ck.run("21_pull1_same_id", lambda: _eq(q1.system_data.id, ids[0]))
    ck.run("22_pull1_times_set", lambda: bool(q1.system_data.update_time and q1.system_data.processing_time)
           or _fail(q1.system_data.__dict__))
    q2 = _try(R.message_queue_pull)
    ck.run("23_pull2_text", lambda: _eq((q2.message_data, q2.system_data.id), ("hello scirocco", ids[1])))
    q3 = _try(R.message_queue_pull)
    ck.run("24_pull3_base64", lambda: _eq(q3.message_data, base64.b64encode(BYTES).decode()))
    ck.run("25_pull3_data_type", lambda: _eq(q3.system_data.data_type, ".bin"))
    q4 = _try(R.message_queue_pull)
    ck.run("26_pull4_dict", lambda: _eq((q4.message_data, q4.system_data.id), ({"looks": "like json"}, ids[3])))
    ck.run("27_pull5_none", lambda: R.message_queue_pull() is None)

    ck.run("28_sender_ack_404", lambda: raises(lambda: S.message_queue_ack(ids[0]), 404))
    a1 = _try(lambda: R.message_queue_ack(ids[0]))
    ck.run("29_ack_processed", lambda: _eq(a1.system_data.status, "processed")
           and (bool(a1.system_data.processed_time) or _fail("no processed_time")))
    ck.run("30_ack_payload", lambda: _eq(a1.message_data, {"type": "message", "n": 1}))
    ck.run("31_ack_again_404", lambda: raises(lambda: R.message_queue_ack(ids[0]), 404))
    ck.run("32_ack_unknown_404", lambda: raises(lambda: R.message_queue_ack(UNKNOWN_ID), 404))
    ck.run("33_ack_other_three", lambda: _eq(
        [R.message_queue_ack(i).system_data.status for i in ids[1:]], ["processed"] * 3))

    g3 = _try(lambda: S.message_get(ids[2]))
    ck.run("34_get_processed", lambda: _eq(g3.system_data.status, "processed"))
    ck.run("35_get_base64", lambda: _eq(g3.message_data, base64.b64encode(BYTES).decode()))
    ck.run("36_receiver_get", lambda: _eq(R.message_get(ids[0]).message_data, {"type": "message", "n": 1}))
    ck.run("37_other_get_404", lambda: raises(lambda: O.message_get(ids[0]), 404))
    ck.run("38_get_unknown_404", lambda: raises(lambda: S.message_get(UNKNOWN_ID), 404))

    all_ = _try(S.message_get_all) or []
    ck.run("39_get_all_four_in_order", lambda: _eq([m.system_data.id for m in all_], ids))
    ck.run("40_get_all_payloads", lambda: _eq(
        [m.message_data for m in all_],
        [{"type": "message", "n": 1}, "hello scirocco", base64.b64encode(BYTES).decode(), {"looks": "like json"}]))
    f = lambda: all_[0].system_data  # noqa: E731
    ck.run("41_get_all_first_fields", lambda: _eq(
        (f().to, f().fromm, f().status, f().data_type), (r_id, s_id, "processed", "application/json")))
    ck.run("42_get_all_tries_int", lambda: type(f().tries) is int and f().tries == 1 or _fail(repr(f().tries)))

    v1 = _try(lambda: S.message_queue_push(r_id, {"v": 1}))
    vid = _id_of(v1)
    u = _try(lambda: S.message_update_one(vid, {"v": 2}))
    ck.run("43_update_payload", lambda: _eq(u.message_data, {"v": 2}))
    ck.run("44_update_time_and_status", lambda: _eq(u.system_data.status, "pending")
           and (bool(u.system_data.update_time) or _fail("no update_time")))
    ck.run("45_update_unknown_404", lambda: raises(lambda: S.message_update_one(UNKNOWN_ID, {"v": 3}), 404))
    ck.run("46_delete_one", lambda: _eq(S.message_delete_one(vid).message_data, {"n": 1, "ok": 1}))
    ck.run("47_delete_one_again", lambda: _eq(S.message_delete_one(vid).message_data, {"n": 0, "ok": 1}))
    ck.run("48_delete_all_four", lambda: _eq(S.message_delete_all().message_data, {"n": 4, "ok": 1}))
    ck.run("49_get_all_after_delete_none", lambda: S.message_get_all() is None)

    bad = HTTPClient(url, r_id, token + "-wrong")
    ck.run("50_wrong_token_pull_403", lambda: raises(bad.message_queue_pull, 403))
    return ck.finish()


def _id_of(response):
    """The id of a push response, or None when the push itself failed (its checks say why)."""
    try:
        return response.system_data.id
    except AssertionError:
        return None


if __name__ == "__main__":
    check_loopback(sys.argv[1])
    sys.exit(main(sys.argv[1], sys.argv[2]))
