//! A clean restart (SIGTERM, start on the same data dir) brings every message back in its state.

use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::json;

/// Everything a client can observe about one message: status line, Scirocco-* headers, body.
fn observe(s: &Server, node: &str, id: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let r = s.get(node, id);
    let mut headers: Vec<(String, String)> = r
        .headers
        .iter()
        .filter(|(k, _)| k.starts_with("Scirocco-"))
        .cloned()
        .collect();
    headers.sort();
    (r.status, headers, r.body)
}

#[test]
fn messages_in_every_state_survive_a_clean_restart() {
    let mut s = Server::start();
    let push = |req: Request| req.send().expect(201).id();
    let base = || s.req("POST", "/messageQueue").from("a1").to("b2");
    let processing = push(base().json(&json!({"state": "processing"})));
    let processed = push(
        base()
            .header("Scirocco-Data-Type", ".bin")
            .bytes(b"\x00\xffdone"),
    );
    let pending_json = push(base().json(&json!({"state": "pending", "nested": [1, {"k": "v"}]})));
    let pending_text = push(base().text("pending ✓ text"));
    let pending_bytes = push(base().bytes(&[0, 1, 2, 255]));
    let scheduled = push(
        base()
            .header("Scirocco-Status", "scheduled")
            .header("Scirocco-Scheduled-Time", "2030-01-02T03:04:05Z")
            .text("later"),
    );
    let updated = push(base().json(&json!({"v": 1})));
    let deleted = push(base().json(&json!({"gone": true})));
    let v2 = push(
        s.req("POST", "/messageQueue")
            .source("c3")
            .dest("b2")
            .header("Scirocco-Payload-Type", "application/pdf")
            .bytes(b"%PDF"),
    );

    assert_eq!(s.pull("b2").expect(200).id(), processing);
    assert_eq!(s.pull("b2").expect(200).id(), processed);
    s.ack("b2", &processed).expect(200);
    s.req("PATCH", &format!("/messages/{updated}"))
        .from("a1")
        .json(&json!({"v": 2}))
        .send()
        .expect(200);
    s.req("DELETE", &format!("/messages/{deleted}"))
        .from("a1")
        .send()
        .expect(200);

    let all = [
        &processing,
        &processed,
        &pending_json,
        &pending_text,
        &pending_bytes,
        &scheduled,
        &updated,
        &v2,
    ];
    let before: Vec<_> = all.iter().map(|id| observe(&s, "b2", id)).collect();
    let list_before = s
        .req("GET", "/messages")
        .from("b2")
        .send()
        .expect(200)
        .json();

    assert!(
        s.stop(),
        "server did not exit on SIGTERM; log:\n{}",
        s.log()
    );
    s.restart();

    let after: Vec<_> = all.iter().map(|id| observe(&s, "b2", id)).collect();
    for ((id, b), a) in all.iter().zip(&before).zip(&after) {
        assert_eq!(a, b, "message {id} changed across the restart");
    }
    assert_eq!(
        s.req("GET", "/messages")
            .from("b2")
            .send()
            .expect(200)
            .json(),
        list_before
    );
    s.get("a1", &deleted).expect(404);
    assert_eq!(
        (
            s.status_of("a1", &processing),
            s.status_of("a1", &processed),
            s.status_of("a1", &scheduled)
        ),
        (
            "processing".to_string(),
            "processed".to_string(),
            "scheduled".to_string()
        )
    );

    // Delivery resumes where it stopped: pending ones in order, nothing in processing redelivered.
    for want in [&pending_json, &pending_text, &pending_bytes, &updated, &v2] {
        assert_eq!(&s.pull("b2").expect(200).id(), want);
    }
    s.pull("b2").expect(204);
    // The message pulled before the restart can still be acked.
    s.ack("b2", &processing).expect(200);
    // New ids never collide with old ones.
    let fresh = s.push("a1", "b2", &json!({}));
    assert!(!all.contains(&&fresh.id()) && fresh.id() != deleted);
}

#[test]
fn scheduled_message_becomes_due_after_a_restart() {
    let mut s = Server::start();
    let due_at = now_ms() + 1500;
    let id = s
        .req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .header("Scirocco-Status", "scheduled")
        .header("Scirocco-Scheduled-Time", &due_at.to_string())
        .json(&json!({"due": "later"}))
        .send()
        .expect(201)
        .id();
    s.restart();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let r = loop {
        let r = s.pull("b2");
        if r.status == 200 {
            break r;
        }
        r.expect(204);
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduled message never became due after the restart"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(now_ms() >= due_at, "delivered before its time");
    assert_eq!((r.id(), r.sc("Status")), (id, "processing"));
}

#[test]
fn repeated_restarts_keep_data_and_order() {
    let mut s = Server::start();
    let mut ids = Vec::new();
    for round in 0..3 {
        ids.push(s.push("a1", "b2", &json!({"round": round})).id());
        s.restart();
    }
    for (round, id) in ids.iter().enumerate() {
        let r = s.pull("b2").expect(200);
        assert_eq!((&r.id(), r.json()), (id, json!({"round": round})));
    }
}
