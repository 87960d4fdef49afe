//! Checklist items 64-66: one queue, two header dialects.

use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::json;

const V1_NAMES: [&str; 3] = ["Scirocco-From", "Scirocco-To", "Scirocco-Data-Type"];
const V2_NAMES: [&str; 3] = [
    "Scirocco-Node-Source",
    "Scirocco-Node-Destination",
    "Scirocco-Payload-Type",
];

#[track_caller]
fn assert_names(r: &Response, present: [&str; 3], absent: [&str; 3]) {
    for h in present {
        assert!(r.exact(h).is_some(), "no `{h}`: {}", r.describe());
    }
    for h in absent {
        assert!(!r.has(h), "other dialect's `{h}` present: {}", r.describe());
    }
}

#[test]
fn item_64_v2_requests_get_v2_names() {
    let s = Server::start();
    let push = s.push_v2("a1", "b2", &json!({}));
    assert_names(&push, V2_NAMES, V1_NAMES);
    let id = push.id();
    let v2 = |m: &str, p: &str, node: &str| s.req(m, p).source(node).send().expect(200);
    for r in [
        v2("GET", &format!("/messages/{id}"), "a1"),
        v2("GET", "/messageQueue", "b2"),
        v2("PATCH", &format!("/messageQueue/{id}/ack"), "b2"),
    ] {
        assert_names(&r, V2_NAMES, V1_NAMES);
        assert_eq!(
            (r.sc("Node-Source"), r.sc("Node-Destination")),
            ("a1", "b2")
        );
    }
    // Any one v2 header is enough to select the dialect.
    let r = s
        .req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .header("Scirocco-Payload-Type", "lbl")
        .json(&json!({}))
        .send();
    assert_eq!(
        r.status,
        400,
        "a v2 push without Node-Source/Destination: {}",
        r.describe()
    );
    assert!(
        r.json()["errors"].get("node_source").is_some(),
        "{}",
        r.describe()
    );
    let r = s
        .req("POST", "/messageQueue")
        .source("a1")
        .to("b2")
        .json(&json!({}))
        .send();
    assert_validation(&r, "node_destination");
}

#[test]
fn item_65_v1_requests_get_v1_names() {
    let s = Server::start();
    let r = s.push("a1", "b2", &json!({}));
    assert_names(&r, V1_NAMES, V2_NAMES);
    let id = r.id();
    assert_names(&s.pull("b2").expect(200), V1_NAMES, V2_NAMES);
    assert_names(&s.ack("b2", &id).expect(200), V1_NAMES, V2_NAMES);
    assert_names(&s.get("b2", &id).expect(200), V1_NAMES, V2_NAMES);
}

#[test]
fn item_66_v1_push_v2_pull_ack_read() {
    let s = Server::start();
    let id = s
        .req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .header("Scirocco-Data-Type", ".bin")
        .bytes(b"\x00mixed")
        .send()
        .expect(201)
        .id();
    let pulled = s
        .req("GET", "/messageQueue")
        .source("b2")
        .send()
        .expect(200);
    assert_eq!(
        (
            pulled.id(),
            pulled.sc("Node-Source"),
            pulled.sc("Payload-Type")
        ),
        (id.clone(), "a1", ".bin")
    );
    assert_eq!(pulled.json(), json!(b64(b"\x00mixed")));
    let acked = s
        .req("PATCH", &format!("/messageQueue/{id}/ack"))
        .source("b2")
        .send()
        .expect(200);
    assert_eq!(acked.sc("Status"), "processed");
    assert_eq!(s.status_of("a1", &id), "processed");
    let listed = s
        .req("GET", "/messages")
        .source("b2")
        .send()
        .expect(200)
        .json();
    assert_eq!(listed[0]["node_source"], "a1");
    assert_eq!(listed[0]["payload"], json!(b64(b"\x00mixed")));
}

#[test]
fn item_66_v2_push_v1_pull_ack_read() {
    let s = Server::start();
    let id = s.push_v2("a1", "b2", &json!({"from": "v2"})).id();
    let pulled = s.pull("b2").expect(200);
    assert_eq!(
        (
            pulled.id(),
            pulled.sc("From"),
            pulled.sc("To"),
            pulled.sc("Data-Type")
        ),
        (id.clone(), "a1", "b2", "application/json")
    );
    s.ack("b2", &id).expect(200);
    let got = s
        .req("GET", &format!("/messages/{id}"))
        .source("a1")
        .send()
        .expect(200);
    assert_eq!(
        (got.sc("Status"), got.json()),
        ("processed", json!({"from": "v2"}))
    );
    let listed = s
        .req("GET", "/messages")
        .from("b2")
        .send()
        .expect(200)
        .json();
    assert_eq!(
        (&listed[0]["from"], &listed[0]["data"]),
        (&json!("a1"), &json!({"from": "v2"}))
    );
}

#[test]
fn item_66_node_ids_are_exact_strings_in_both_dialects() {
    let s = Server::start();
    s.push("a1", "AF1", &json!({}));
    s.pull("af1").expect(204);
    s.req("GET", "/messageQueue")
        .source("af1")
        .send()
        .expect(204);
    s.req("GET", "/messageQueue")
        .source("AF1")
        .send()
        .expect(200);
}
