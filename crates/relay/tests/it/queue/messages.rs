//! Checklist items 50-63: `/messages` (get one, list, update, delete) and `/globalDataSpace`.

use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::{json, Value};

fn list(req: Request) -> Vec<Value> {
    let r = req.send().expect(200);
    assert_eq!(r.content_type(), Some(JSON_CT));
    r.json()
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {}", r.describe()))
        .clone()
}

fn list_v1(s: &Server, node: &str) -> Vec<Value> {
    list(s.req("GET", "/messages").from(node))
}

fn ids(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|m| m["_id"].as_str().unwrap().to_string())
        .collect()
}

fn patch(s: &Server, id: &str) -> Request {
    s.req("PATCH", &format!("/messages/{id}"))
}

fn delete(s: &Server, id: &str) -> Request {
    s.req("DELETE", &format!("/messages/{id}"))
}

fn n(r: Response) -> Value {
    r.expect(200).json()
}

#[test]
fn item_50_get_one_by_source_or_destination_in_any_status() {
    let s = Server::start();
    let id = s
        .req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .bytes(b"\x00\xffbin")
        .send()
        .expect(201)
        .id();
    for (step, status) in [
        ("pushed", "pending"),
        ("pulled", "processing"),
        ("acked", "processed"),
    ] {
        match step {
            "pulled" => drop(s.pull("b2").expect(200)),
            "acked" => drop(s.ack("b2", &id).expect(200)),
            _ => {}
        }
        for node in ["a1", "b2"] {
            let r = s.get(node, &id).expect(200);
            assert_eq!(
                (r.id(), r.sc("Status"), r.sc("From"), r.sc("To")),
                (id.clone(), status, "a1", "b2")
            );
            assert_eq!(r.sc("Data-Type"), "application/octet-stream");
            assert_eq!(r.content_type(), Some(JSON_CT));
            assert_eq!(r.json(), json!(b64(b"\x00\xffbin")));
        }
    }
    // Scheduled, read in the v2 dialect.
    let sch = s
        .req("POST", "/messageQueue")
        .source("a1")
        .dest("b2")
        .header("Scirocco-Status", "scheduled")
        .header("Scirocco-Scheduled-Time", "2030-01-02T03:04:05Z")
        .text("later")
        .send()
        .expect(201)
        .id();
    let r = s
        .req("GET", &format!("/messages/{sch}"))
        .source("b2")
        .send()
        .expect(200);
    assert_eq!(
        (r.sc("Status"), r.sc("Scheduled-Time"), r.text().as_str()),
        (
            "scheduled",
            "Wed Jan 02 2030 03:04:05 GMT+0000 (UTC)",
            "later"
        )
    );
}

#[test]
fn item_51_get_one_by_stranger_or_unknown_is_404() {
    let s = Server::start();
    let id = s.push("a1", "b2", &json!({})).id();
    assert_error(&s.get("c3", &id), 404, RESOURCE_NOT_FOUND);
    assert_error(
        &s.req("GET", &format!("/messages/{id}")).send(),
        404,
        RESOURCE_NOT_FOUND,
    );
    assert_error(
        &s.get("a1", "0123456789abcdef01234567"),
        404,
        RESOURCE_NOT_FOUND,
    );
    // Hex of the wrong length: Recommended 404 instead of the original 500 / crash.
    for bad in ["abc", "0123456789abcdef012345678", "0"] {
        assert_error(&s.get("a1", bad), 404, RESOURCE_NOT_FOUND);
    }
    assert!(s.alive());
    s.get("a1", &id.to_uppercase()).expect(200);
}

#[test]
fn item_52_list_has_sent_and_received_oldest_first() {
    let s = Server::start();
    let a_to_b = s.push("a1", "b2", &json!({"n": 1})).id();
    let b_to_a = s.push("b2", "a1", &json!({"n": 2})).id();
    let c_to_a = s.push("c3", "a1", &json!({"n": 3})).id();
    let c_to_d = s.push("c3", "d4", &json!({"n": 4})).id();
    s.pull("a1").expect(200);
    assert_eq!(
        ids(&list_v1(&s, "a1")),
        [a_to_b.clone(), b_to_a.clone(), c_to_a.clone()]
    );
    assert_eq!(ids(&list_v1(&s, "b2")), [a_to_b, b_to_a]);
    assert_eq!(ids(&list_v1(&s, "c3")), [c_to_a, c_to_d.clone()]);
    assert_eq!(ids(&list_v1(&s, "d4")), [c_to_d]);
}

fn assert_list_element(m: &Value, keys: [&str; 4]) {
    let [to, from, label, payload] = keys;
    let o = m.as_object().unwrap();
    for k in [
        "_id",
        to,
        from,
        label,
        "status",
        "tries",
        "created_time",
        payload,
    ] {
        assert!(o.contains_key(k), "no `{k}` in {m}");
    }
    assert!(is_object_id(m["_id"].as_str().unwrap()));
    assert!(m["tries"].is_u64(), "tries is not a number: {m}");
    for (k, v) in o {
        if k.ends_with("_time") {
            assert!(
                v.as_str().is_some_and(is_iso_ms),
                "{k} is not ISO-8601 with ms: {m}"
            );
        }
    }
}

#[test]
fn item_53_list_element_keys_per_dialect() {
    let s = Server::start();
    s.push("a1", "b2", &json!({"p": 1}));
    s.pull("b2").expect(200);
    let v1 = list_v1(&s, "a1");
    assert_list_element(&v1[0], ["to", "from", "data_type", "data"]);
    assert_eq!(
        (&v1[0]["to"], &v1[0]["from"], &v1[0]["data_type"]),
        (&json!("b2"), &json!("a1"), &json!("application/json"))
    );
    assert_eq!(
        (&v1[0]["status"], &v1[0]["tries"], &v1[0]["data"]),
        (&json!("processing"), &json!(1), &json!({"p": 1}))
    );
    let v2 = list(s.req("GET", "/messages").source("a1"));
    assert_list_element(
        &v2[0],
        ["node_destination", "node_source", "payload_type", "payload"],
    );
    assert_eq!(v2[0]["payload"], json!({"p": 1}));
    for k in ["to", "from", "data_type", "data"] {
        assert!(
            v2[0].get(k).is_none(),
            "v1 key `{k}` in a v2 listing: {}",
            v2[0]
        );
    }
    for k in ["node_destination", "node_source", "payload_type", "payload"] {
        assert!(
            v1[0].get(k).is_none(),
            "v2 key `{k}` in a v1 listing: {}",
            v1[0]
        );
    }
    // Times in the listing are ISO-8601 UTC with milliseconds.
    s.req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .header("Scirocco-Status", "scheduled")
        .header("Scirocco-Scheduled-Time", "2030-01-02T05:04:05.5+02:00")
        .text("s")
        .send()
        .expect(201);
    let v1 = list_v1(&s, "a1");
    assert_eq!(v1[1]["scheduled_time"], json!("2030-01-02T03:04:05.500Z"));
    assert_eq!(v1[1]["data"], json!("s"));
}

#[test]
fn item_54_list_omits_nulls_and_gives_bytes_as_base64() {
    let s = Server::start();
    s.req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .bytes(b"\x01\x02\x03\xfe")
        .send()
        .expect(201);
    s.req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .text("txt")
        .send()
        .expect(201);
    let l = list_v1(&s, "a1");
    assert_eq!(l[0]["data"], json!(b64(b"\x01\x02\x03\xfe")));
    assert_eq!(l[1]["data"], json!("txt"));
    for m in &l {
        for (k, v) in m.as_object().unwrap() {
            assert!(!v.is_null(), "null `{k}` in {m}");
            assert!(!k.starts_with("__"), "internal key `{k}` in {m}");
        }
        for absent in [
            "update_time",
            "processing_time",
            "processed_time",
            "error_time",
            "scheduled_time",
            "topic",
        ] {
            assert!(
                m.get(absent).is_none(),
                "`{absent}` in a fresh message: {m}"
            );
        }
    }
}

#[test]
fn item_55_empty_list_is_204() {
    let s = Server::start();
    let r = s.req("GET", "/messages").from("a1").send().expect(204);
    assert!(r.body.is_empty());
    s.push("b2", "c3", &json!({}));
    s.req("GET", "/messages").from("a1").send().expect(204);
    s.req("GET", "/messages").send().expect(204);
}

#[test]
fn item_56_limit_and_cap() {
    let s = Server::start();
    let all: Vec<String> = (0..4)
        .map(|i| s.push("a1", "b2", &json!({"i": i})).id())
        .collect();
    let with = |q: &str| ids(&list(s.req("GET", &format!("/messages{q}")).from("a1")));
    assert_eq!(with("?limit=1"), all[..1]);
    assert_eq!(with("?limit=3"), all[..3]);
    for q in [
        "",
        "?limit=0",
        "?limit=abc",
        "?limit=-2",
        "?limit=1000",
        "?limit=",
    ] {
        assert_eq!(with(q), all, "query {q:?}");
    }

    // The default cap is 100.
    for i in 4..150 {
        s.push("a1", "b2", &json!({"i": i}));
    }
    let listed = list(s.req("GET", "/messages").from("a1"));
    assert_eq!(listed.len(), 100);
    assert_eq!(ids(&listed)[..4], all[..]);
    assert_eq!(listed[99]["data"], json!({"i": 99}));

    let capped = Server::with(Options::default().env("SCIROCCO_MAX_GET_ALL_MESSAGES", "2"));
    let all: Vec<String> = (0..4)
        .map(|i| capped.push("a1", "b2", &json!({"i": i})).id())
        .collect();
    let with = |q: &str| {
        ids(&list(
            capped.req("GET", &format!("/messages{q}")).from("a1"),
        ))
    };
    assert_eq!(with("?limit=1"), all[..1]);
    for q in ["", "?limit=3", "?limit=0", "?limit=abc", "?limit=-1"] {
        assert_eq!(with(q), all[..2], "query {q:?} with a cap of 2");
    }
}

#[test]
fn item_57_update_replaces_only_the_payload() {
    let s = Server::start();
    let pushed = s
        .req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .header("Scirocco-Data-Type", "doc")
        .json(&json!({"v": 1}))
        .send()
        .expect(201);
    let id = pushed.id();
    let r = patch(&s, &id)
        .from("a1")
        .json(&json!({"v": 2}))
        .send()
        .expect(200);
    assert_eq!(r.json(), json!({"v": 2}));
    assert_eq!(
        (r.sc("Status"), r.sc("Data-Type"), r.sc("Tries")),
        ("pending", "doc", "0")
    );
    assert_eq!(r.sc("Created-Time"), pushed.sc("Created-Time"));
    assert!(
        parse_header_time(r.sc("Update-Time")).is_some(),
        "{}",
        r.describe()
    );
    // A change of payload kind keeps the label (Q14); bytes read back as base64.
    let r = patch(&s, &id)
        .from("a1")
        .bytes(b"\x00\x01")
        .send()
        .expect(200);
    assert_eq!(
        (r.sc("Data-Type"), r.json()),
        ("doc", json!(b64(b"\x00\x01")))
    );
    let r = patch(&s, &id)
        .from("a1")
        .text("now text")
        .send()
        .expect(200);
    assert_eq!(r.text(), "now text");
    // The destination pulls the latest payload.
    assert_eq!(s.pull("b2").expect(200).text(), "now text");
    // v2 sender update of a pending message.
    let v2 = s.push_v2("c3", "d4", &json!({"a": 1})).id();
    let r = patch(&s, &v2)
        .source("c3")
        .json(&json!({"a": 2}))
        .send()
        .expect(200);
    assert_eq!((r.json(), r.sc("Status")), (json!({"a": 2}), "pending"));
}

#[test]
fn item_57_update_body_rules() {
    let s = Server::start();
    let id = s.push("a1", "b2", &json!({"v": 1})).id();
    let r = patch(&s, &id)
        .from("a1")
        .header("Content-Type", "application/json")
        .body("{broken")
        .send();
    assert_eq!(r.status, 400, "{}", r.describe());
    assert_error(
        &patch(&s, &id)
            .from("a1")
            .header("Content-Type", "application/json")
            .body("7")
            .send(),
        400,
        "invalid json",
    );
    // Recommended: an unsupported type on an updatable message is a 400, not a silent `{}`.
    assert_eq!(
        patch(&s, &id)
            .from("a1")
            .header("Content-Type", "image/gif")
            .body("GIF")
            .send()
            .status,
        400
    );
    assert_eq!(s.get("a1", &id).expect(200).json(), json!({"v": 1}));
}

#[test]
fn item_58_update_missing_foreign_or_locked_is_404_even_without_content_type() {
    let s = Server::start();
    let id = s.push("a1", "b2", &json!({"v": 1})).id();
    for (req, what) in [
        (
            patch(&s, "0123456789abcdef01234567").from("a1"),
            "unknown id",
        ),
        (patch(&s, "abc").from("a1"), "short hex id"),
        (patch(&s, &id).from("c3"), "stranger, v1"),
        (patch(&s, &id).source("c3"), "stranger, v2"),
        (patch(&s, &id).source("b2"), "v2 destination"),
    ] {
        for r in [
            req.clone().body("x").send(),
            req.json(&json!({"v": 9})).send(),
        ] {
            assert_eq!(r.status, 404, "update by {what}: {}", r.describe());
            assert_error(&r, 404, RESOURCE_NOT_FOUND);
        }
    }
    let v2 = s.push_v2("c3", "d4", &json!({})).id();
    s.req("GET", "/messageQueue")
        .source("d4")
        .send()
        .expect(200);
    assert_error(
        &patch(&s, &v2).source("c3").body("x").send(),
        404,
        RESOURCE_NOT_FOUND,
    );
    assert_eq!(s.get("a1", &id).expect(200).json(), json!({"v": 1}));
}

/// Pushes one message to `b2` from `a1` and moves it to `status`.
fn in_status(s: &Server, status: &str) -> String {
    let id = match status {
        "scheduled" => s
            .req("POST", "/messageQueue")
            .source("a1")
            .dest("b2")
            .header("Scirocco-Status", "scheduled")
            .header("Scirocco-Scheduled-Time", "2030-01-02T03:04:05Z")
            .json(&json!({"s": status}))
            .send()
            .expect(201)
            .id(),
        _ => s.push("a1", "b2", &json!({"s": status})).id(),
    };
    if status == "processing" || status == "processed" {
        assert_eq!(s.pull("b2").expect(200).id(), id);
    }
    if status == "processed" {
        s.ack("b2", &id).expect(200);
    }
    id
}

/// Pull-based states first: a pull takes the oldest pending message, so those must not exist yet.
const STATUSES: [&str; 4] = ["processing", "processed", "pending", "scheduled"];

#[test]
fn item_59_v2_only_source_and_only_pending_or_scheduled() {
    for status in STATUSES {
        let s = Server::start();
        let id = in_status(&s, status);
        let open = status == "pending" || status == "scheduled";
        // The destination can never update or delete in v2.
        assert_error(
            &patch(&s, &id)
                .source("b2")
                .json(&json!({"by": "b2"}))
                .send(),
            404,
            RESOURCE_NOT_FOUND,
        );
        assert_eq!(
            n(delete(&s, &id).source("b2").send()),
            json!({"n": 0, "ok": 1})
        );
        assert_eq!(
            n(s.req("DELETE", "/messages").source("b2").send()),
            json!({"n": 0, "ok": 1})
        );
        // The source only while the message is pending or scheduled.
        let r = patch(&s, &id)
            .source("a1")
            .json(&json!({"by": "a1"}))
            .send();
        assert_eq!(
            r.status,
            if open { 200 } else { 404 },
            "v2 source update of a {status} message: {}",
            r.describe()
        );
        assert_eq!(
            n(delete(&s, &id).source("a1").send()),
            json!({"n": u8::from(open), "ok": 1}),
            "{status}"
        );
        if !open {
            assert_eq!(
                n(s.req("DELETE", "/messages").source("a1").send()),
                json!({"n": 0, "ok": 1})
            );
            assert_eq!(s.status_of("a1", &id), status);
        } else {
            s.get("a1", &id).expect(404);
        }
    }
}

#[test]
fn item_59_v2_delete_all_takes_only_pending_and_scheduled() {
    let s = Server::start();
    let ids: Vec<String> = STATUSES.iter().map(|st| in_status(&s, st)).collect();
    assert_eq!(
        n(s.req("DELETE", "/messages").source("a1").send()),
        json!({"n": 2, "ok": 1})
    );
    assert_eq!(listed_ids(&s, "a1"), [ids[0].clone(), ids[1].clone()]);
}

fn listed_ids(s: &Server, node: &str) -> Vec<String> {
    ids(&list_v1(s, node))
}

#[test]
fn item_60_v1_source_or_destination_in_any_status() {
    for status in STATUSES {
        for (updater, deleter) in [("a1", "b2"), ("b2", "a1")] {
            let s = Server::start();
            let id = in_status(&s, status);
            let r = patch(&s, &id)
                .from(updater)
                .json(&json!({"by": updater}))
                .send();
            assert_eq!(
                r.status,
                200,
                "v1 update by {updater} of a {status} message: {}",
                r.describe()
            );
            assert_eq!((r.sc("Status"), r.json()), (status, json!({"by": updater})));
            assert_error(
                &patch(&s, &id).from("c3").json(&json!({})).send(),
                404,
                RESOURCE_NOT_FOUND,
            );
            assert_eq!(
                n(delete(&s, &id).from("c3").send()),
                json!({"n": 0, "ok": 1})
            );
            assert_eq!(
                n(delete(&s, &id).from(deleter).send()),
                json!({"n": 1, "ok": 1}),
                "v1 delete by {deleter} of a {status} message"
            );
        }
    }
    // A message deleted while processing can no longer be acked.
    let s = Server::start();
    let id = in_status(&s, "processing");
    assert_eq!(
        n(delete(&s, &id).from("b2").send()),
        json!({"n": 1, "ok": 1})
    );
    assert_error(&s.ack("b2", &id), 404, RESOURCE_NOT_FOUND);
    // Delete-all by the receiver takes what it received, in any status.
    let s = Server::start();
    for st in STATUSES {
        in_status(&s, st);
    }
    let other = s.push("c3", "d4", &json!({})).id();
    assert_eq!(
        n(s.req("DELETE", "/messages").from("b2").send()),
        json!({"n": 4, "ok": 1})
    );
    s.req("GET", "/messages").from("a1").send().expect(204);
    s.get("c3", &other).expect(200);
}

#[test]
fn item_61_delete_one_always_200_with_n() {
    let s = Server::start();
    let id = s.push("a1", "b2", &json!({})).id();
    assert_eq!(
        n(delete(&s, &id).from("c3").send()),
        json!({"n": 0, "ok": 1})
    );
    assert_eq!(
        n(delete(&s, "0123456789abcdef01234567").from("a1").send()),
        json!({"n": 0, "ok": 1})
    );
    assert_eq!(
        n(delete(&s, "abc").from("a1").send()),
        json!({"n": 0, "ok": 1})
    );
    assert_eq!(n(delete(&s, &id).send()), json!({"n": 0, "ok": 1}));
    s.get("a1", &id).expect(200);
    let r = delete(&s, &id.to_uppercase()).from("a1").send().expect(200);
    assert_eq!(r.content_type(), Some(JSON_CT));
    assert_eq!(r.json(), json!({"n": 1, "ok": 1}));
    assert_eq!(
        n(delete(&s, &id).from("a1").send()),
        json!({"n": 0, "ok": 1})
    );
    s.get("a1", &id).expect(404);
}

#[test]
fn item_62_delete_all_touches_only_the_callers_messages() {
    let s = Server::start();
    for i in 0..3 {
        s.push("a1", "b2", &json!({"i": i}));
    }
    s.push("c3", "a1", &json!({}));
    let keep: Vec<String> = (0..2)
        .map(|i| s.push("c3", "d4", &json!({"k": i})).id())
        .collect();
    assert_eq!(
        n(s.req("DELETE", "/messages").from("a1").send()),
        json!({"n": 4, "ok": 1})
    );
    assert_eq!(
        n(s.req("DELETE", "/messages").from("a1").send()),
        json!({"n": 0, "ok": 1})
    );
    s.req("GET", "/messages").from("b2").send().expect(204);
    assert_eq!(ids(&list_v1(&s, "c3")), keep);
    assert_eq!(
        n(s.req("DELETE", "/messages").send()),
        json!({"n": 0, "ok": 1})
    );
    assert_eq!(ids(&list_v1(&s, "d4")), keep);
}

#[test]
fn item_63_global_data_space_wipes_everything() {
    let s = Server::start();
    for st in STATUSES {
        in_status(&s, st);
    }
    s.push("c3", "d4", &json!({}));
    s.push_v2("e5", "f6", &json!({}));
    let r = s.req("DELETE", "/globalDataSpace").send().expect(200);
    assert_eq!(r.content_type(), Some(JSON_CT));
    assert_eq!(r.json(), json!({"n": 6, "ok": 1}));
    for node in ["a1", "b2", "c3", "d4", "e5", "f6"] {
        s.req("GET", "/messages").from(node).send().expect(204);
    }
    assert_eq!(
        n(s.req("DELETE", "/globalDataSpace").source("a1").send()),
        json!({"n": 0, "ok": 1})
    );
    // The queue works as before afterwards.
    let id = s.push("a1", "b2", &json!({})).id();
    assert_eq!(s.pull("b2").expect(200).id(), id);
}
