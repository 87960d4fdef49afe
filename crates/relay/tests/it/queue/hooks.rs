//! Checklist item 71 (test hooks exist only when enabled) and items 69/70.
//!
//! Items 69/70 ask for the original mocha suites (34 v1 + 58 v2 tests) to pass. Their sources
//! cannot be fetched here, so their behaviours are covered by this repository's own tests
//! instead: every assertion the spec attributes to the suites maps to a checklist item tested in
//! queue_*.rs, and this file checks the hook routes (spec section 11) that the suites' Mongoose
//! stub would drive, the way the stub drives them.

use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::{json, Value};

const HOOK_ROUTES: [(&str, &str); 4] = [
    ("POST", "/__test__/messages"),
    ("DELETE", "/__test__/messages"),
    ("PATCH", "/__test__/messages/update"),
    ("GET", "/__test__/messages/count"),
];

fn count(s: &Server) -> u64 {
    let r = s.req("GET", "/__test__/messages/count").send().expect(200);
    r.json()["count"]
        .as_u64()
        .unwrap_or_else(|| panic!("{}", r.describe()))
}

fn seed(s: &Server, docs: Value) -> Vec<String> {
    let r = s
        .req("POST", "/__test__/messages")
        .json(&docs)
        .send()
        .expect(200);
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["_id"].as_str().unwrap().to_string())
        .collect()
}

fn force(s: &Server, filter: Value, update: Value) -> Value {
    s.req("PATCH", "/__test__/messages/update")
        .json(&json!({"filter": filter, "update": update}))
        .send()
        .expect(200)
        .json()
}

#[test]
fn item_71_hooks_absent_by_default() {
    let s = Server::start();
    for (m, p) in HOOK_ROUTES {
        assert_error(&s.req(m, p).json(&json!([])).send(), 404, "Not Found");
        assert_error(
            &s.anon(m, p).json(&json!([])).send(),
            403,
            "Incorrect auth token.",
        );
    }
    // `=0` is not "set".
    let s = Server::with(Options::default().env("RELAY_TEST_HOOKS", "0"));
    assert_error(
        &s.req("GET", "/__test__/messages/count").send(),
        404,
        "Not Found",
    );
}

#[test]
fn item_71_hooks_present_when_enabled_and_still_behind_the_token() {
    for var in ["RELAY_TEST_HOOKS", "SCIROCCO_TEST_HOOKS"] {
        let s = Server::with(Options::default().env(var, "1"));
        assert_eq!(count(&s), 0, "{var}");
        for (m, p) in HOOK_ROUTES {
            assert_error(
                &s.anon(m, p).json(&json!([])).send(),
                403,
                "Incorrect auth token.",
            );
        }
    }
}

#[test]
fn items_69_70_seeded_documents_with_chosen_ids_and_statuses() {
    let s = Server::with(Options::default().hooks());
    let chosen = "5823a70203c123003de4229b";
    let ids = seed(
        &s,
        json!([
            {"_id": chosen, "to": "b2", "from": "a1", "status": "processed", "data": {"n": 0}, "data_type": "application/json"},
            {"node_destination": "b2", "node_source": "a1", "status": "processing", "payload": "text", "payload_type": "text/plain", "tries": 1},
            {"to": "b2", "from": "a1", "status": "scheduled", "scheduled_time": "2016-11-15T10:41:05.123Z", "data": {"n": 2}, "data_type": "application/json", "topic": "t1"},
            {"to": "b2", "from": "a1", "data": {"n": 3}, "data_type": "application/json"}
        ]),
    );
    assert_eq!(ids.len(), 4);
    assert_eq!(ids[0], chosen);
    assert!(ids.iter().all(|i| is_object_id(i)), "{ids:?}");
    assert_eq!(count(&s), 4);
    let got = s.get("a1", chosen).expect(200);
    assert_eq!(
        (got.sc("Status"), got.json()),
        ("processed", json!({"n": 0}))
    );
    assert_eq!(s.get("b2", &ids[1]).expect(200).sc("Tries"), "1");
    // Only the due scheduled message and the pending one are pullable, in insertion order;
    // the seeded topic is emitted like any other stored field.
    let first = s.pull("b2").expect(200);
    assert_eq!(
        (first.id(), first.sc("Topic"), first.sc("Status")),
        (ids[2].clone(), "t1", "processing")
    );
    assert_eq!(s.pull("b2").expect(200).id(), ids[3]);
    s.pull("b2").expect(204);
    // A seeded single document (not an array) also works.
    let one = seed(&s, json!({"to": "c3", "from": "a1", "data": {}}));
    assert_eq!(one.len(), 1);
    assert_eq!(count(&s), 5);
}

#[test]
fn items_69_70_forced_status_then_ack() {
    let s = Server::with(Options::default().hooks());
    let id = s.push("a1", "b2", &json!({"k": 1})).id();
    let changed = force(&s, json!({"_id": id}), json!({"status": "processing"}));
    assert_eq!(changed["_id"], json!(id));
    let r = s.ack("b2", &id).expect(200);
    assert_eq!(r.sc("Status"), "processed");
    // The filter also matches on dialect keys and status; no match gives null.
    assert_eq!(
        force(
            &s,
            json!({"node_destination": "b2", "status": "pending"}),
            json!({"status": "processing"})
        ),
        Value::Null
    );
    let v2 = s.push_v2("a1", "b2", &json!({})).id();
    assert_eq!(
        force(
            &s,
            json!({"to": "b2", "status": "pending"}),
            json!({"status": "processed"})
        )["_id"],
        json!(v2)
    );
    assert_eq!(s.status_of("a1", &v2), "processed");
}

#[test]
fn items_69_70_wipe_between_tests() {
    let s = Server::with(Options::default().hooks());
    s.push("a1", "b2", &json!({}));
    seed(&s, json!([{"to": "b2", "from": "a1", "data": {}}]));
    assert_eq!(count(&s), 2);
    s.req("DELETE", "/__test__/messages").send().expect(200);
    assert_eq!(count(&s), 0);
    s.pull("b2").expect(204);
    let id = s.push("a1", "b2", &json!({})).id();
    assert_eq!(s.pull("b2").expect(200).id(), id);
}
