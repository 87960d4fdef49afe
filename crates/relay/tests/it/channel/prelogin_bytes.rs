//! Frames sent before a login are kept for after it, but a socket that has not logged in may
//! not make the server hold much: besides the count (64), the bytes kept are limited, and a
//! frame beyond them gets a failed copy at once instead of being kept for up to 60 s.

use crate::support::server::Server;
use crate::support::ws::Ws;
use serde_json::json;

fn big_message(rid: &str) -> serde_json::Value {
    json!({"type": "message_up", "request_id": rid, "body": {"subtype": "text", "channel_id": "c", "content": {"text": "x".repeat(900 * 1024)}, "recipients": "g", "timestamp": 1, "context": {}}})
}

#[test]
fn large_frames_before_a_login_are_refused_once_2_mib_are_kept() {
    let s = Server::start();
    let ws = Ws::open(&s);
    for rid in ["p1", "p2", "p3", "p4"] {
        assert!(ws.send(&big_message(rid)), "the socket was closed");
    }
    for rid in ["p3", "p4"] {
        let copy = ws.wait(&format!("the failed copy of {rid}"), |f| {
            f["type"] == "copy" && f["body"]["request_id"] == rid
        });
        assert_eq!(copy["body"]["status"], false, "{copy}");
        assert!(
            copy["body"]["context"]["message"]
                .as_str()
                .unwrap()
                .contains("pre-login buffer is full"),
            "{copy}"
        );
    }
    // The two kept frames are answered only once a login comes (there is none here).
    let heartbeat = ws.request_as(json!({"type": "heartbeat", "body": {}}), "hb");
    assert_eq!(heartbeat["status"], true);
    let copies: Vec<String> = ws
        .frames()
        .iter()
        .filter(|f| f["type"] == "copy")
        .map(|f| f["body"]["request_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(copies, ["p3", "p4", "hb"]);
}
