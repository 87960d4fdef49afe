//! `--processed-retention`: processed messages are dropped some time after their ack; nothing
//! else ever is.

use std::time::{Duration, Instant};

use crate::support::server::*;
use serde_json::json;

/// Only keeps a server that never drops anything from hanging the test.
const DEADLINE: Duration = Duration::from_secs(30);

#[test]
fn processed_messages_go_after_the_retention_and_nothing_else_does() {
    let keep_forever = Server::with(Options::default().arg("--processed-retention").arg("0"));
    let s = Server::with(Options::default().arg("--processed-retention").arg("1"));
    let mut kept = Vec::new();
    for server in [&s, &keep_forever] {
        let done = server.push("a1", "b2", &json!({"state": "processed"})).id();
        let working = server
            .push("a1", "b2", &json!({"state": "processing"}))
            .id();
        server.pull("b2").expect(200);
        server.ack("b2", &done).expect(200);
        server.pull("b2").expect(200);
        let waiting = server.push("a1", "b2", &json!({"state": "pending"})).id();
        let later = server
            .req("POST", "/messageQueue")
            .from("a1")
            .to("b2")
            .header("Scirocco-Status", "scheduled")
            .header("Scirocco-Scheduled-Time", "2030-01-02T03:04:05Z")
            .text("s")
            .send()
            .expect(201)
            .id();
        kept.push((done, working, waiting, later));
    }
    let (done, working, waiting, later) = &kept[0];
    let start = Instant::now();
    while s.get("a1", done).status != 404 {
        assert!(
            start.elapsed() < DEADLINE,
            "processed message never dropped with --processed-retention 1"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(s.status_of("a1", working), "processing");
    assert_eq!(s.status_of("a1", waiting), "pending");
    assert_eq!(s.status_of("a1", later), "scheduled");
    // Retention 0 keeps it: the other server has had as long and still has it.
    let (done0, ..) = &kept[1];
    assert_eq!(keep_forever.status_of("a1", done0), "processed");
}
