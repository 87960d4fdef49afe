//! Checklist items 33-44: `GET /messageQueue` (pull).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::json;

/// Only keeps a broken scheduler from hanging the test; never a speed expectation.
const DUE_DEADLINE: Duration = Duration::from_secs(20);

#[test]
fn item_33_nothing_eligible_is_204_empty() {
    let s = Server::start();
    for r in [
        s.pull("b2"),
        s.req("GET", "/messageQueue").source("b2").send(),
    ] {
        r.clone().expect(204);
        assert!(r.body.is_empty(), "{}", r.describe());
        assert!(
            r.content_type().is_none(),
            "204 with a Content-Type: {}",
            r.describe()
        );
    }
}

#[test]
fn item_34_pull_without_identity_is_204() {
    let s = Server::start();
    s.push("a1", "b2", &json!({}));
    s.req("GET", "/messageQueue").send().expect(204);
    s.req("GET", "/messageQueue").from("").send().expect(204);
    s.req("GET", "/messageQueue").source("").send().expect(204);
    // The message is still there for its destination.
    s.pull("b2").expect(200);
}

#[test]
fn item_35_pull_sees_only_own_inbox() {
    let s = Server::start();
    let id = s.push("a1", "b2", &json!({"for": "b2"})).id();
    s.pull("a1").expect(204);
    s.pull("c3").expect(204);
    // Node ids are compared exactly: `B2` is another node.
    s.pull("B2").expect(204);
    assert_eq!(s.pull("b2").expect(200).id(), id);
}

#[test]
fn item_36_pull_is_fifo() {
    let s = Server::start();
    let ids: Vec<String> = (0..20)
        .map(|i| s.push(&format!("a{}", i % 3), "b2", &json!({"i": i})).id())
        .collect();
    let pulled: Vec<String> = (0..20).map(|_| s.pull("b2").expect(200).id()).collect();
    assert_eq!(pulled, ids);
    s.pull("b2").expect(204);
}

#[test]
fn item_36_due_scheduled_message_keeps_its_creation_place() {
    let s = Server::start();
    let due_at = now_ms() + 1500;
    let early = s
        .req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .header("Scirocco-Status", "scheduled")
        .header("Scirocco-Scheduled-Time", &due_at.to_string())
        .text("scheduled first")
        .send()
        .expect(201)
        .id();
    wait_until_ms(due_at);
    let late = s.push("a1", "b2", &json!({"pushed": "after"})).id();
    assert_eq!(s.pull("b2").expect(200).id(), early);
    assert_eq!(s.pull("b2").expect(200).id(), late);
}

fn wait_until_ms(t: i64) {
    while now_ms() <= t {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn item_37_pulled_message_is_processing_with_tries_1() {
    let s = Server::start();
    let pushed = s.push("a1", "b2", &json!({"n": 1}));
    let r = s.pull("b2").expect(200);
    assert_eq!((r.sc("Status"), r.sc("Tries")), ("processing", "1"));
    assert!(
        parse_header_time(r.sc("Update-Time")).is_some(),
        "{}",
        r.describe()
    );
    assert!(
        parse_header_time(r.sc("Processing-Time")).is_some(),
        "{}",
        r.describe()
    );
    assert_eq!(r.sc("Created-Time"), pushed.sc("Created-Time"));
    assert_eq!((r.sc("From"), r.sc("To")), ("a1", "b2"));
    assert!(!r.has("Scirocco-Processed-Time"));
    // And it is stored that way.
    let got = s.get("a1", &r.id()).expect(200);
    assert_eq!((got.sc("Status"), got.sc("Tries")), ("processing", "1"));
}

#[test]
fn item_38_processing_and_processed_are_never_pulled() {
    let s = Server::start();
    let a = s.push("a1", "b2", &json!({"m": "a"})).id();
    let b = s.push("a1", "b2", &json!({"m": "b"})).id();
    assert_eq!(s.pull("b2").expect(200).id(), a);
    assert_eq!(s.pull("b2").expect(200).id(), b);
    s.ack("b2", &a).expect(200);
    // `a` is processed, `b` processing: neither comes back.
    for _ in 0..3 {
        s.pull("b2").expect(204);
    }
}

#[test]
fn item_39_future_scheduled_message_is_not_pulled() {
    let s = Server::start();
    let r = s
        .req("POST", "/messageQueue")
        .source("a1")
        .dest("b2")
        .header("Scirocco-Status", "scheduled")
        .header(
            "Scirocco-Scheduled-Time",
            &(now_ms() + 3_600_000).to_string(),
        )
        .json(&json!({}))
        .send()
        .expect(201);
    s.req("GET", "/messageQueue")
        .source("b2")
        .send()
        .expect(204);
    assert_eq!(s.status_of("a1", &r.id()), "scheduled");
}

#[test]
fn item_40_due_scheduled_message_is_pulled_as_processing() {
    let s = Server::start();
    let due_at = now_ms() + 1000;
    let pushed = s
        .req("POST", "/messageQueue")
        .source("a1")
        .dest("b2")
        .header("Scirocco-Status", "scheduled")
        .header("Scirocco-Scheduled-Time", &due_at.to_string())
        .json(&json!({"when": "later"}))
        .send()
        .expect(201);
    let deadline = Instant::now() + DUE_DEADLINE;
    let pulled = loop {
        let r = s.req("GET", "/messageQueue").source("b2").send();
        if r.status == 200 {
            break r;
        }
        r.expect(204);
        assert!(
            Instant::now() < deadline,
            "scheduled message never became due"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(now_ms() >= due_at, "delivered before its scheduled time");
    assert_eq!(pulled.id(), pushed.id());
    assert_eq!(
        (pulled.sc("Status"), pulled.sc("Tries")),
        ("processing", "1")
    );
    assert_eq!(pulled.sc("Scheduled-Time"), pushed.sc("Scheduled-Time"));
    assert_eq!(pulled.json(), json!({"when": "later"}));
}

#[test]
fn item_40_scheduled_time_already_past_is_due_at_once() {
    let s = Server::start();
    // After server start but already past: accepted and due (Q6).
    let t = now_ms();
    std::thread::sleep(Duration::from_millis(20));
    let r = s
        .req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .header("Scirocco-Status", "scheduled")
        .header("Scirocco-Scheduled-Time", &t.to_string())
        .text("due")
        .send()
        .expect(201);
    assert_eq!(r.sc("Status"), "scheduled");
    assert_eq!(s.pull("b2").expect(200).id(), r.id());
}

#[test]
fn item_41_pulled_binary_is_base64_json_string() {
    let s = Server::start();
    let bytes: Vec<u8> = (0..=255).rev().collect();
    for len in [0, 1, 2, 3, 256] {
        let body = &bytes[..len];
        s.req("POST", "/messageQueue")
            .from("a1")
            .to("b2")
            .bytes(body)
            .send()
            .expect(201);
        let r = s.pull("b2").expect(200);
        assert_eq!(r.content_type(), Some(JSON_CT));
        assert_eq!(r.json(), json!(b64(body)), "len {len}");
    }
    // The largest default raw body, every byte value many times over.
    let big: Vec<u8> = (0..1000 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    s.req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .bytes(&big)
        .send()
        .expect(201);
    assert_eq!(s.pull("b2").expect(200).json(), json!(b64(&big)));
}

#[test]
fn item_42_pulled_text_is_raw_html_typed() {
    let s = Server::start();
    let text = "plain ✓ text\nwith lines";
    s.req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .text(text)
        .send()
        .expect(201);
    let r = s.pull("b2").expect(200);
    assert_eq!(r.content_type(), Some("text/html; charset=utf-8"));
    assert_eq!(r.text(), text);
    // A JSON-looking text stays text.
    s.req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .text("{\"a\":1}")
        .send()
        .expect(201);
    let r = s.pull("b2").expect(200);
    assert_eq!(
        (r.content_type(), r.text().as_str()),
        (Some("text/html; charset=utf-8"), "{\"a\":1}")
    );
}

#[test]
fn item_43_pulled_json_is_the_same_json() {
    let s = Server::start();
    let body = json!({"b": 2, "a": {"y": [1.5, -2, "x"], "x": null}, "1": true});
    s.push("a1", "b2", &body);
    let r = s.pull("b2").expect(200);
    assert_eq!(r.content_type(), Some(JSON_CT));
    let got = r.json();
    assert_eq!(got, body);
    assert_eq!(
        got.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["b", "a", "1"],
        "key order not preserved"
    );
}

#[test]
fn item_44_concurrent_pulls_never_share_a_message() {
    let s = Server::start();
    const N: usize = 60;
    let pushed: HashSet<String> = (0..N)
        .map(|i| s.push("a1", "b2", &json!({"i": i})).id())
        .collect();
    let addr_token = (s.addr, s.token.clone());
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (addr, token) = addr_token.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    let r = Request::new(addr, "GET", "/messageQueue")
                        .header("Authorization", &token)
                        .from("b2")
                        .send();
                    match r.status {
                        200 => got.push(r.id()),
                        204 => return got,
                        _ => panic!("pull failed: {}", r.describe()),
                    }
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.join().unwrap());
    }
    let unique: HashSet<String> = all.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        all.len(),
        "a message was delivered to two pulls"
    );
    assert_eq!(unique, pushed);
}
