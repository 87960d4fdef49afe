//! `--visibility-timeout`: a pulled message that is not acked in time goes back to pending and
//! is delivered again with `Scirocco-Tries` counting deliveries. (Off by default in the
//! original, which leaves such messages in processing forever; see item 38 for the default.)

use std::time::{Duration, Instant};

use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::json;

/// Only keeps a server that never redelivers from hanging the test.
const DEADLINE: Duration = Duration::from_secs(30);

fn short_timeout() -> Server {
    Server::with(Options::default().arg("--visibility-timeout").arg("1"))
}

#[test]
fn unacked_message_is_redelivered_with_tries_2() {
    let s = short_timeout();
    let id = s.push("a1", "b2", &json!({"job": 1})).id();
    let first = s.pull("b2").expect(200);
    assert_eq!((first.id(), first.sc("Tries")), (id.clone(), "1"));
    let start = Instant::now();
    let again = loop {
        let r = s.pull("b2");
        if r.status == 200 {
            break r;
        }
        r.expect(204);
        assert!(
            start.elapsed() < DEADLINE,
            "never redelivered; log:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        (again.id(), again.sc("Status"), again.sc("Tries")),
        (id.clone(), "processing", "2")
    );
    assert_eq!(again.json(), json!({"job": 1}));
    let acked = s.ack("b2", &id).expect(200);
    assert_eq!((acked.sc("Status"), acked.sc("Tries")), ("processed", "2"));
}

#[test]
fn expired_message_reads_back_as_pending() {
    let s = short_timeout();
    let id = s.push("a1", "b2", &json!({})).id();
    s.pull("b2").expect(200);
    let start = Instant::now();
    while s.status_of("a1", &id) != "pending" {
        assert!(
            start.elapsed() < DEADLINE,
            "still processing long after the visibility timeout"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Back to pending: an ack now is refused like any ack of a pending message.
    assert_error(&s.ack("b2", &id), 404, RESOURCE_NOT_FOUND);
}

#[test]
fn a_message_pulled_before_a_restart_still_expires() {
    let mut s = short_timeout();
    let id = s.push("a1", "b2", &json!({"survives": "restart"})).id();
    s.pull("b2").expect(200);
    assert!(s.stop(), "no exit on SIGTERM; log:\n{}", s.log());
    s.restart();
    let start = Instant::now();
    let again = loop {
        let r = s.pull("b2");
        if r.status == 200 {
            break r;
        }
        r.expect(204);
        assert!(
            start.elapsed() < DEADLINE,
            "a message in processing at shutdown was never redelivered"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!((again.id(), again.sc("Tries")), (id, "2"));
}

#[test]
fn acked_message_is_never_redelivered() {
    let s = short_timeout();
    let id = s.push("a1", "b2", &json!({})).id();
    s.pull("b2").expect(200);
    s.ack("b2", &id).expect(200);
    // Wait well past the timeout, then make sure nothing comes back.
    std::thread::sleep(Duration::from_millis(2500));
    s.pull("b2").expect(204);
    assert_eq!(s.status_of("a1", &id), "processed");
}

#[test]
fn redelivery_keeps_fifo_order_with_newer_messages() {
    let s = short_timeout();
    let old = s.push("a1", "b2", &json!({"n": "old"})).id();
    s.pull("b2").expect(200);
    let start = Instant::now();
    while s.status_of("a1", &old) != "pending" {
        assert!(start.elapsed() < DEADLINE, "never went back to pending");
        std::thread::sleep(Duration::from_millis(100));
    }
    let new = s.push("a1", "b2", &json!({"n": "new"})).id();
    assert_eq!(
        s.pull("b2").expect(200).id(),
        old,
        "an expired message lost its place in the queue"
    );
    assert_eq!(s.pull("b2").expect(200).id(), new);
}
