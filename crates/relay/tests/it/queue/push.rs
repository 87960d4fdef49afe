//! Checklist items 9-32: `POST /messageQueue` (push).

use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::{json, Value};

const BAD_CONTENT_TYPE: &str =
    "Please, specify a valid Content-Type values. Valid choices are .. text/plain, application/json, application/octet-stream";
const SCHEDULED_NEEDS_TIME: &str =
    "An scheduled message requires the scheduled time header to be set.";
const TOO_LARGE: &str = "request entity too large";

fn push_v1(s: &Server) -> Request {
    s.req("POST", "/messageQueue").from("a1").to("b2")
}

fn push_v2(s: &Server) -> Request {
    s.req("POST", "/messageQueue").source("a1").dest("b2")
}

#[test]
fn item_09_push_json_is_201() {
    let s = Server::start();
    push_v1(&s)
        .json(&json!({"type": "message"}))
        .send()
        .expect(201);
    push_v2(&s).json(&json!([1, 2, 3])).send().expect(201);
}

#[test]
fn item_10_location_is_messages_id() {
    let s = Server::start();
    let r = push_v1(&s).json(&json!({})).send().expect(201);
    let loc = r.header("Location").expect("Location header").to_string();
    let id = loc
        .strip_prefix("/messages/")
        .unwrap_or_else(|| panic!("Location {loc:?} is not /messages/<id>"));
    assert!(is_object_id(id), "Location {loc:?}");
    // The Location is a usable path.
    s.req("GET", &loc).from("a1").send().expect(200);
}

#[test]
fn item_11_id_header_equals_location_segment() {
    let s = Server::start();
    for r in [
        push_v1(&s).text("x").send().expect(201),
        push_v2(&s).bytes(b"y").send().expect(201),
    ] {
        let loc = r.header("Location").unwrap();
        assert_eq!(
            loc.rsplit('/').next().unwrap(),
            r.sc("Id"),
            "{}",
            r.describe()
        );
    }
}

#[test]
fn item_12_ids_are_24_lowercase_hex_and_distinct() {
    let s = Server::start();
    let mut ids = std::collections::HashSet::new();
    for i in 0..50 {
        let id = s.push("a1", "b2", &json!({"i": i})).id();
        assert!(is_object_id(&id), "id {id:?}");
        assert!(ids.insert(id.clone()), "id {id} handed out twice");
    }
    // ObjectId-shaped: the first 4 bytes are the creation second, as MongoDB users expect.
    let r = s.push("a1", "b2", &json!({}));
    let secs = i64::from_str_radix(&r.id()[..8], 16).unwrap();
    assert_eq!(
        Some(secs),
        parse_header_time(r.sc("Created-Time")),
        "id {} vs {}",
        r.id(),
        r.sc("Created-Time")
    );
}

#[test]
fn item_13_push_headers_v1_and_v2() {
    let s = Server::start();
    let r = push_v1(&s).json(&json!({})).send().expect(201);
    assert_eq!(
        (r.sc("Status"), r.sc("Tries"), r.sc("From"), r.sc("To")),
        ("pending", "0", "a1", "b2")
    );
    assert!(
        parse_header_time(r.sc("Created-Time")).is_some(),
        "{}",
        r.describe()
    );
    let r = push_v2(&s).json(&json!({})).send().expect(201);
    assert_eq!(
        (
            r.sc("Status"),
            r.sc("Tries"),
            r.sc("Node-Source"),
            r.sc("Node-Destination")
        ),
        ("pending", "0", "a1", "b2")
    );
    assert!(
        parse_header_time(r.sc("Created-Time")).is_some(),
        "{}",
        r.describe()
    );
    // Node ids are echoed verbatim: no digit-only mangling (Q8), upper case kept.
    let r = s
        .req("POST", "/messageQueue")
        .from("007")
        .to("00AF")
        .text("t")
        .send()
        .expect(201);
    assert_eq!((r.sc("From"), r.sc("To")), ("007", "00AF"));
}

#[test]
fn item_14_push_has_no_later_times() {
    let s = Server::start();
    for r in [
        push_v1(&s).json(&json!({})).send().expect(201),
        push_v2(&s)
            .header("Scirocco-Status", "pending")
            .text("t")
            .send()
            .expect(201),
    ] {
        for h in [
            "Update-Time",
            "Processing-Time",
            "Processed-Time",
            "Error-Time",
            "Scheduled-Time",
            "Topic",
        ] {
            assert!(
                !r.has(&format!("Scirocco-{h}")),
                "unexpected Scirocco-{h}: {}",
                r.describe()
            );
        }
    }
}

#[test]
fn item_15_label_defaults_to_content_type() {
    let s = Server::start();
    for (ct, body) in [
        ("application/json", &b"{}"[..]),
        ("text/plain", b"hi"),
        ("application/octet-stream", b"\x00"),
    ] {
        let r = push_v1(&s)
            .header("Content-Type", ct)
            .body(body)
            .send()
            .expect(201);
        assert_eq!(r.sc("Data-Type"), ct);
        let r = push_v2(&s)
            .header("Content-Type", ct)
            .body(body)
            .send()
            .expect(201);
        assert_eq!(r.sc("Payload-Type"), ct);
    }
}

#[test]
fn item_16_explicit_label_is_stored_and_echoed() {
    let s = Server::start();
    let thirty = "x".repeat(30);
    for label in [".tar.gz", ".bin", "application/pdf", thirty.as_str()] {
        let r = push_v1(&s)
            .header("Scirocco-Data-Type", label)
            .bytes(b"\x01\x02")
            .send()
            .expect(201);
        assert_eq!(r.sc("Data-Type"), label);
        let pulled = s.pull("b2").expect(200);
        assert_eq!((pulled.id(), pulled.sc("Data-Type")), (r.id(), label));
        // The label never becomes the HTTP Content-Type.
        assert_eq!(pulled.content_type(), Some(JSON_CT));
        let r = push_v2(&s)
            .header("Scirocco-Payload-Type", label)
            .text("t")
            .send()
            .expect(201);
        assert_eq!(r.sc("Payload-Type"), label);
        let pulled = s
            .req("GET", "/messageQueue")
            .source("b2")
            .send()
            .expect(200);
        assert_eq!(pulled.sc("Payload-Type"), label);
    }
}

#[test]
fn item_16_non_ascii_label_is_echoed_verbatim() {
    let s = Server::start();
    let label = "café ✓";
    let r = push_v1(&s)
        .header("Scirocco-Data-Type", label)
        .text("t")
        .send()
        .expect(201);
    assert_eq!(r.sc("Data-Type"), label, "{}", r.describe());
    assert_eq!(s.pull("b2").expect(200).sc("Data-Type"), label);
}

#[test]
fn item_17_label_over_30_chars_is_400() {
    let s = Server::start();
    let long = "y".repeat(31);
    assert_validation(
        &push_v1(&s)
            .header("Scirocco-Data-Type", &long)
            .text("t")
            .send(),
        "data_type",
    );
    assert_validation(
        &push_v2(&s)
            .header("Scirocco-Payload-Type", &long)
            .text("t")
            .send(),
        "payload_type",
    );
    s.pull("b2").expect(204);
}

#[test]
fn item_18_content_type_must_be_one_of_three() {
    let s = Server::start();
    for ct in [
        None,
        Some("application/x-www-form-urlencoded"),
        Some("text/html"),
        Some("application/xml"),
        Some("multipart/form-data"),
        Some(""),
    ] {
        let mut req = push_v1(&s).body("a=1");
        if let Some(ct) = ct {
            req = req.header("Content-Type", ct);
        }
        assert_error(&req.send(), 400, BAD_CONTENT_TYPE);
    }
    s.pull("b2").expect(204);
}

#[test]
fn item_19_json_scalars_are_400_invalid_json() {
    let s = Server::start();
    for body in ["123", "\"x\"", "true", "null", "  42", "\n\t-1.5"] {
        let r = push_v1(&s)
            .header("Content-Type", "application/json")
            .body(body)
            .send();
        assert_error(&r, 400, "invalid json");
    }
    // Blank space before an object or array is fine.
    push_v1(&s)
        .header("Content-Type", "application/json")
        .body(" \n {\"a\": 1}")
        .send()
        .expect(201);
    push_v1(&s)
        .header("Content-Type", "application/json")
        .body("\t[1]")
        .send()
        .expect(201);
}

#[test]
fn item_20_malformed_json_is_400() {
    let s = Server::start();
    for body in ["{\"a\":", "{a: 1}", "[1,,2]", "{\"a\": 1}}", "{'a': 1}"] {
        let r = push_v1(&s)
            .header("Content-Type", "application/json")
            .body(body)
            .send();
        assert_eq!(r.status, 400, "body {body:?}: {}", r.describe());
        assert!(
            r.json()["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            r.describe()
        );
    }
    s.pull("b2").expect(204);
}

/// A JSON object serialised to exactly `len` bytes.
fn json_of_len(len: usize) -> Vec<u8> {
    let mut v = b"{\"p\":\"".to_vec();
    v.resize(len - 2, b'x');
    v.extend_from_slice(b"\"}");
    v
}

#[test]
fn item_21_default_per_type_limits() {
    let s = Server::start();
    let kib = 1024;
    let ok = |ct: &str, body: Vec<u8>| {
        push_v1(&s)
            .header("Content-Type", ct)
            .body(body)
            .send()
            .expect(201)
    };
    let too_big = |ct: &str, body: Vec<u8>| {
        assert_error(
            &push_v1(&s).header("Content-Type", ct).body(body).send(),
            413,
            TOO_LARGE,
        )
    };
    ok("application/json", json_of_len(100 * kib));
    too_big("application/json", json_of_len(100 * kib + 100));
    ok("text/plain", vec![b't'; 100 * kib]);
    too_big("text/plain", vec![b't'; 100 * kib + 1]);
    ok("application/octet-stream", vec![7; 1000 * kib]);
    too_big("application/octet-stream", vec![7; 1000 * kib + 1]);
    // Exactly the three accepted pushes are stored.
    let list = s
        .req("GET", "/messages")
        .from("a1")
        .send()
        .expect(200)
        .json();
    assert_eq!(list.as_array().unwrap().len(), 3);
}

#[test]
fn item_21_limits_follow_scirocco_env() {
    let s = Server::with(
        Options::default()
            .env("SCIROCCO_MAX_KB_SIZE_JSON", "1")
            .env("SCIROCCO_MAX_KB_SIZE_TEXT", "2")
            .env("SCIROCCO_MAX_KB_SIZE_RAW", "3"),
    );
    let send = |ct: &str, body: Vec<u8>| {
        push_v1(&s)
            .header("Content-Type", ct)
            .body(body)
            .send()
            .status
    };
    assert_eq!(send("application/json", json_of_len(1024)), 201);
    assert_eq!(send("application/json", json_of_len(1025)), 413);
    assert_eq!(send("text/plain", vec![b't'; 2048]), 201);
    assert_eq!(send("text/plain", vec![b't'; 2049]), 413);
    assert_eq!(send("application/octet-stream", vec![0; 3072]), 201);
    assert_eq!(send("application/octet-stream", vec![0; 3073]), 413);
}

#[test]
fn item_22_missing_or_non_hex_destination_is_400() {
    let s = Server::start();
    let v1 = || s.req("POST", "/messageQueue").from("a1");
    let v2 = || s.req("POST", "/messageQueue").source("a1");
    assert_validation(&v1().json(&json!({})).send(), "to");
    assert_validation(&v2().json(&json!({})).send(), "node_destination");
    for bad in ["xyz", "0x12", "ab cd", "ab-cd", ""] {
        assert_validation(&v1().to(bad).json(&json!({})).send(), "to");
        assert_validation(&v2().dest(bad).json(&json!({})).send(), "node_destination");
    }
}

#[test]
fn item_22_long_node_ids_work_up_to_the_cap() {
    // No cap in the original; Relay caps node ids at 128 hex characters (Q18).
    let s = Server::start();
    let long = "f".repeat(128);
    let r = s
        .req("POST", "/messageQueue")
        .from(&long)
        .to(&long)
        .json(&json!({"self": true}))
        .send()
        .expect(201);
    assert_eq!(r.sc("To"), long);
    assert_eq!(s.pull(&long).expect(200).id(), r.id());
    let too_long = "e".repeat(129);
    assert_validation(
        &s.req("POST", "/messageQueue")
            .from("a1")
            .to(&too_long)
            .json(&json!({}))
            .send(),
        "to",
    );
    assert_validation(
        &s.req("POST", "/messageQueue")
            .source(&too_long)
            .dest("b2")
            .json(&json!({}))
            .send(),
        "node_source",
    );
}

#[test]
fn item_23_missing_or_non_hex_source_is_400() {
    let s = Server::start();
    // No identity at all: the request is v1 (no v2 header), so the key is `from`.
    assert_validation(
        &s.req("POST", "/messageQueue")
            .to("b2")
            .json(&json!({}))
            .send(),
        "from",
    );
    // A v2 destination makes it v2, so the key is `node_source`.
    assert_validation(
        &s.req("POST", "/messageQueue")
            .dest("b2")
            .json(&json!({}))
            .send(),
        "node_source",
    );
    for bad in ["zz", "0xab", "g1", ""] {
        assert_validation(
            &s.req("POST", "/messageQueue")
                .from(bad)
                .to("b2")
                .json(&json!({}))
                .send(),
            "from",
        );
        assert_validation(
            &s.req("POST", "/messageQueue")
                .source(bad)
                .dest("b2")
                .json(&json!({}))
                .send(),
            "node_source",
        );
    }
    // Both problems at once are reported together.
    let r = s
        .req("POST", "/messageQueue")
        .from("q!")
        .to("w!")
        .json(&json!({}))
        .send();
    assert_validation(&r, "from");
    assert_validation(&r, "to");
}

#[test]
fn item_24_scheduled_without_time_is_400() {
    let s = Server::start();
    for time in [None, Some("")] {
        let mut req = push_v2(&s).header("Scirocco-Status", "scheduled");
        if let Some(t) = time {
            req = req.header("Scirocco-Scheduled-Time", t);
        }
        let r = req.json(&json!({})).send();
        assert_error(&r, 400, SCHEDULED_NEEDS_TIME);
        assert!(r.json().get("errors").is_none(), "{}", r.describe());
    }
}

#[test]
fn item_25_unknown_status_is_400() {
    let s = Server::start();
    for status in ["error", "done", "bogus", "PENDING"] {
        assert_validation(
            &push_v1(&s)
                .header("Scirocco-Status", status)
                .json(&json!({}))
                .send(),
            "status",
        );
    }
}

#[test]
fn item_25_non_ascii_status_is_400() {
    let s = Server::start();
    for status in [&b"\xff"[..], "pénding".as_bytes(), b"pending\xa0"] {
        let r = push_v1(&s)
            .header_bytes("Scirocco-Status", status)
            .json(&json!({}))
            .send();
        assert_validation(&r, "status");
    }
    s.pull("b2").expect(204);
}

#[test]
fn item_26_processing_or_processed_on_push_becomes_pending() {
    let s = Server::start();
    for status in ["processing", "processed", "pending"] {
        let r = push_v1(&s)
            .header("Scirocco-Status", status)
            .json(&json!({"s": status}))
            .send()
            .expect(201);
        assert_eq!(r.sc("Status"), "pending");
        let pulled = s.pull("b2").expect(200);
        assert_eq!(pulled.json(), json!({"s": status}));
    }
}

#[test]
fn item_27_unparseable_scheduled_time_is_400() {
    let s = Server::start();
    for t in ["Invalid Date", "tomorrow", "2030-13-45T99:00:00Z"] {
        let r = push_v2(&s)
            .header("Scirocco-Status", "scheduled")
            .header("Scirocco-Scheduled-Time", t)
            .json(&json!({}))
            .send();
        assert_validation(&r, "scheduled_time");
    }
}

#[test]
fn item_28_scheduled_time_formats() {
    let s = Server::start();
    // 2030-01-02T03:04:05Z
    let at = 1893553445;
    let want = header_time(at);
    assert_eq!(want, "Wed Jan 02 2030 03:04:05 GMT+0000 (UTC)");
    for given in [
        (at * 1000).to_string(),
        format!("{}", at * 1000 + 999),
        "Wed Jan 02 2030 03:04:05 GMT+0000 (UTC)".to_string(),
        "Wed Jan 02 2030 05:04:05 GMT+0200 (CEST)".to_string(),
        "2030-01-02T03:04:05Z".to_string(),
        "2030-01-02T03:04:05.123Z".to_string(),
        "2030-01-02T05:04:05+02:00".to_string(),
        "2030-01-01T22:04:05.5-05:00".to_string(),
        "2030-01-02T03:04:05".to_string(),
        "2030-01-02T03:04:05.123456".to_string(),
        "Wed, 02 Jan 2030 03:04:05 +0000".to_string(),
        "Wed, 02 Jan 2030 03:04:05 GMT".to_string(),
        "2030-01-02T03:04:05.123456789Z".to_string(),
        // Numeric strings, sign and exponent included, are epoch milliseconds.
        "1.893553445e12".to_string(),
        "+1893553445000".to_string(),
    ] {
        let r = push_v2(&s)
            .header("Scirocco-Status", "scheduled")
            .header("Scirocco-Scheduled-Time", &given)
            .json(&json!({}))
            .send();
        assert_eq!(r.status, 201, "Scheduled-Time {given:?}: {}", r.describe());
        assert_eq!(r.sc("Status"), "scheduled");
        assert_eq!(
            r.sc("Scheduled-Time"),
            want,
            "Scheduled-Time {given:?} read as another instant"
        );
    }
    // A date alone is UTC midnight.
    let r = push_v2(&s)
        .header("Scirocco-Status", "scheduled")
        .header("Scirocco-Scheduled-Time", "2030-01-02")
        .json(&json!({}))
        .send()
        .expect(201);
    assert_eq!(
        r.sc("Scheduled-Time"),
        "Wed Jan 02 2030 00:00:00 GMT+0000 (UTC)"
    );
    // None of them is due.
    s.req("GET", "/messageQueue")
        .source("b2")
        .send()
        .expect(204);
}

#[test]
fn item_27_non_ascii_scheduled_time_is_400() {
    let s = Server::start();
    for t in [
        &b"\xff\xfe"[..],
        "2030-01-02T03:04:05Z\u{a0}".as_bytes(),
        "mañana".as_bytes(),
    ] {
        let r = push_v1(&s)
            .header_bytes("Scirocco-Scheduled-Time", t)
            .json(&json!({}))
            .send();
        assert_validation(&r, "scheduled_time");
        let r = push_v2(&s)
            .header("Scirocco-Status", "scheduled")
            .header_bytes("Scirocco-Scheduled-Time", t)
            .json(&json!({}))
            .send();
        assert_validation(&r, "scheduled_time");
    }
    s.pull("b2").expect(204);
}

#[test]
fn item_27_out_of_range_scheduled_times_are_400_not_500() {
    let s = Server::start();
    // JavaScript dates end at ±8.64e15 ms; beyond that (and for NaN/Infinity) the original
    // gets `Invalid Date`, a CastError on scheduled_time.
    for t in [
        "1e300",
        "-1e300",
        "Infinity",
        "-Infinity",
        "NaN",
        "8640000000000001",
        "-8640000000000001",
        "1e400",
    ] {
        let r = push_v2(&s)
            .header("Scirocco-Status", "scheduled")
            .header("Scirocco-Scheduled-Time", t)
            .json(&json!({}))
            .send();
        assert_validation(&r, "scheduled_time");
    }
    // The far edges themselves are valid dates; a server may refuse years it cannot represent,
    // but never with a server error.
    for t in [
        "8640000000000000",
        "-8640000000000000",
        "275760-09-13T00:00:00.000Z",
        "0001-01-01T00:00:00Z",
    ] {
        let r = push_v2(&s)
            .header("Scirocco-Status", "scheduled")
            .header("Scirocco-Scheduled-Time", t)
            .json(&json!({}))
            .send();
        assert!(
            r.status == 201 || r.status == 400,
            "Scheduled-Time {t:?}: {}",
            r.describe()
        );
        if r.status == 201 {
            assert!(!r.sc("Scheduled-Time").is_empty());
        }
    }
    assert!(s.alive());
    s.req("GET", "/messages").source("a1").send();
}

#[test]
fn item_28_times_are_utc_whatever_the_server_time_zone() {
    // The original printed server-local time; Relay always speaks UTC, and reads naive
    // scheduled times as UTC, even on a machine set to another zone.
    let s = Server::with(Options::default().env("TZ", "Asia/Kolkata"));
    let before = now_ms() / 1000;
    let r = push_v2(&s)
        .header("Scirocco-Status", "scheduled")
        .header("Scirocco-Scheduled-Time", "2030-01-02T03:04:05")
        .json(&json!({}))
        .send()
        .expect(201);
    assert_eq!(
        r.sc("Scheduled-Time"),
        "Wed Jan 02 2030 03:04:05 GMT+0000 (UTC)"
    );
    let created =
        parse_header_time(r.sc("Created-Time")).unwrap_or_else(|| panic!("{}", r.describe()));
    // Clock sanity, not speed: a local-time stamp would be 5.5 hours off.
    assert!(
        (created - before).abs() < 600,
        "Created-Time {} is not UTC",
        r.sc("Created-Time")
    );
    let listed = s
        .req("GET", "/messages")
        .source("a1")
        .send()
        .expect(200)
        .json();
    assert_eq!(listed[0]["scheduled_time"], "2030-01-02T03:04:05.000Z");
}

#[test]
fn item_28_scheduled_time_on_a_pending_message_is_kept_but_inert() {
    let s = Server::start();
    let r = push_v1(&s)
        .header("Scirocco-Scheduled-Time", "2030-01-02T03:04:05Z")
        .json(&json!({}))
        .send()
        .expect(201);
    assert_eq!(
        (r.sc("Status"), r.sc("Scheduled-Time")),
        ("pending", "Wed Jan 02 2030 03:04:05 GMT+0000 (UTC)")
    );
    assert_eq!(s.pull("b2").expect(200).id(), r.id());
}

#[test]
fn item_29_client_supplied_system_headers_are_ignored() {
    let s = Server::start();
    let forged_id = "ffffffffffffffffffffffff";
    let forged_time = "Mon Jan 01 2001 00:00:00 GMT+0000 (UTC)";
    let mut req = push_v1(&s)
        .header("Scirocco-Id", forged_id)
        .header("Scirocco-Tries", "7")
        .header("Scirocco-Topic", "t1");
    for h in [
        "Update-Time",
        "Processing-Time",
        "Processed-Time",
        "Error-Time",
        "Created-Time",
    ] {
        req = req.header(&format!("Scirocco-{h}"), forged_time);
    }
    let r = req.json(&json!({})).send().expect(201);
    assert_ne!(r.id(), forged_id);
    assert_eq!(r.sc("Tries"), "0");
    assert_ne!(r.sc("Created-Time"), forged_time);
    for h in [
        "Update-Time",
        "Processing-Time",
        "Processed-Time",
        "Error-Time",
        "Topic",
    ] {
        assert!(
            !r.has(&format!("Scirocco-{h}")),
            "Scirocco-{h} was taken from the request: {}",
            r.describe()
        );
    }
    let got = s.get("a1", &r.id()).expect(200);
    assert_eq!(
        (got.sc("Tries"), got.sc("Created-Time")),
        ("0", r.sc("Created-Time"))
    );
    s.get("a1", forged_id).expect(404);
}

#[test]
fn item_30_push_echoes_json() {
    let s = Server::start();
    let body = json!({"z": 1, "a": [1, "two", null, {"nested": true}], "é": "ünïcode ✓", "big": 12345678901234i64});
    let r = push_v1(&s).json(&body).send().expect(201);
    assert_eq!(r.content_type(), Some(JSON_CT));
    let echoed: Value = r.json();
    assert_eq!(echoed, body);
    let keys: Vec<&String> = echoed.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["z", "a", "é", "big"], "key order not preserved");
    let r = push_v1(&s).json(&json!([3, 2, 1])).send().expect(201);
    assert_eq!(r.json(), json!([3, 2, 1]));
    // Keys MongoDB refused (a dot, a leading `$`) are plain JSON here (Q17).
    let odd = json!({"a.b": 1, "$set": {"x": 2}, "": 3});
    assert_eq!(push_v1(&s).json(&odd).send().expect(201).json(), odd);
    assert_eq!(s.pull("b2").expect(200).json(), body);
    s.pull("b2").expect(200);
    assert_eq!(s.pull("b2").expect(200).json(), odd);
}

#[test]
fn item_30_deeply_nested_json() {
    let s = Server::start();
    let nest = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let ok = nest(100);
    let r = push_v1(&s)
        .header("Content-Type", "application/json")
        .body(ok.clone())
        .send()
        .expect(201);
    assert_eq!(r.text(), ok);
    assert_eq!(s.pull("b2").expect(200).text(), ok);
    assert_eq!(
        s.req("GET", "/messages")
            .from("a1")
            .send()
            .expect(200)
            .json()[0]["data"],
        serde_json::from_str::<Value>(&ok).unwrap()
    );
    // Absurd depth either round-trips intact or is refused as bad JSON; it never takes the
    // server (or a later listing of it) down.
    let deep = nest(50_000);
    let r = push_v1(&s)
        .header("Content-Type", "application/json")
        .body(deep.clone())
        .send();
    assert!(r.status == 201 || r.status == 400, "{}", r.describe());
    if r.status == 201 {
        assert_eq!(s.pull("b2").expect(200).text(), deep);
        let listed = s.req("GET", "/messages").from("a1").send().expect(200);
        assert!(
            listed.text().contains(&deep),
            "listing lost the deep payload"
        );
    }
    assert!(s.alive());
}

#[test]
fn item_31_push_echoes_text_as_html() {
    let s = Server::start();
    let text = "héllo scirocco ✓ <b>not markup</b>";
    let r = push_v1(&s).text(text).send().expect(201);
    assert_eq!(r.content_type(), Some("text/html; charset=utf-8"));
    assert_eq!(r.text(), text);
    let r = push_v1(&s).text("").send().expect(201);
    assert_eq!(r.text(), "");
    // Text is decoded as UTF-8 with replacement, as the original's text parser does.
    let r = push_v1(&s)
        .header("Content-Type", "text/plain")
        .body(&b"ab\xffcd"[..])
        .send()
        .expect(201);
    assert_eq!(r.body, "ab\u{fffd}cd".as_bytes());
    s.pull("b2").expect(200);
    assert_eq!(s.pull("b2").expect(200).text(), "");
    assert_eq!(s.pull("b2").expect(200).body, "ab\u{fffd}cd".as_bytes());
}

#[test]
fn item_32_push_echoes_raw_bytes() {
    let s = Server::start();
    let bytes: Vec<u8> = (0..=255).collect();
    let r = push_v1(&s).bytes(&bytes).send().expect(201);
    assert_eq!(r.content_type(), Some("application/octet-stream"));
    assert_eq!(r.body, bytes);
}
