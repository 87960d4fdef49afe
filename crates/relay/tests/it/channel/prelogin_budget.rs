//! Sockets that have not logged in cannot make the server hold much memory all together: the
//! frames they keep for after their logins share one server-wide budget
//! (`--channel-prelogin-budget`), given back when frames leave a buffer (here: a disconnect and
//! a login), and only so many such sockets may be open at once
//! (`--channel-max-unauthenticated`, refused with HTTP 503).

use std::time::{Duration, Instant};

use crate::support::server::{Options, Server};
use crate::support::ws::Ws;
use relay_client::channel::ChannelHttp;
use serde_json::json;

fn big_message(rid: &str) -> serde_json::Value {
    json!({"type": "message_up", "request_id": rid, "body": {"subtype": "text", "channel_id": "c", "content": {"text": "x".repeat(900 * 1024)}, "recipients": "g", "timestamp": 1, "context": {}}})
}

/// Sends a 900 KiB frame and a heartbeat behind it; the frame's failed copy's message, if it
/// was refused (a kept frame is not answered before a login).
fn send_big(ws: &Ws, rid: &str) -> Option<String> {
    assert!(ws.send(&big_message(rid)), "the socket was closed");
    ws.request_as(
        json!({"type": "heartbeat", "body": {}}),
        &format!("hb-{rid}"),
    );
    ws.frames()
        .iter()
        .find(|f| f["type"] == "copy" && f["body"]["request_id"] == rid)
        .map(|f| {
            f["body"]["context"]["message"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
}

/// Retries `send_big` from `ws` until a frame is kept again (the budget came back).
fn kept_again(ws: &Ws, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    for i in 0.. {
        if send_big(ws, &format!("{what}-{i}")).is_none() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the budget was not given back after {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pre_login_frames_of_all_sockets_share_one_budget() {
    // Three 900 KiB frames fit, a fourth does not, whichever sockets send them.
    let s = Server::with(Options::default().args(&["--channel-prelogin-budget", "3000000"]));
    s.add_account("u@example.com", "pw-u");
    let (a, b) = (Ws::open(&s), Ws::open(&s));
    assert_eq!(send_big(&a, "a1"), None);
    assert_eq!(send_big(&a, "a2"), None);
    assert_eq!(send_big(&b, "b1"), None);
    let refused =
        send_big(&b, "b2").expect("a frame beyond the server's budget gets a failed copy");
    assert!(
        refused.contains("server's pre-login buffers are full"),
        "{refused}"
    );
    let c = Ws::open(&s);
    assert!(
        send_big(&c, "c1").is_some(),
        "a fresh socket gets nothing either"
    );
    // (Each socket may keep two such frames; `c` and `d` below are new ones for that reason.)

    // A socket that goes away gives its share back.
    a.disconnect();
    kept_again(&c, "a-disconnect");
    assert_eq!(send_big(&c, "c2"), None);
    assert!(send_big(&b, "b3").is_some(), "the budget is spent again");

    // So does a socket that logs in (its frames run, then are gone).
    let mut http = ChannelHttp::new(&s.http()).unwrap();
    let (token, _) = http.sign_in("u@example.com", "pw-u").await.unwrap();
    let d = Ws::open(&s);
    assert!(send_big(&d, "d1").is_some());
    tokio::task::spawn_blocking(move || {
        let login = b.login_user(&token);
        assert_eq!(login["status"], true, "{login}");
        kept_again(&d, "b-login");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sockets_waiting_for_a_login_are_limited() {
    let s = Server::with(Options::default().args(&["--channel-max-unauthenticated", "2"]));
    s.add_account("u@example.com", "pw-u");
    let mut http = ChannelHttp::new(&s.http()).unwrap();
    let (token, _) = http.sign_in("u@example.com", "pw-u").await.unwrap();
    tokio::task::spawn_blocking(move || {
        let a = Ws::open(&s);
        let _b = Ws::open(&s);
        let (status, _) = s.ws_upgrade();
        assert!(status.starts_with("HTTP/1.1 503"), "{status}");

        // One logging in makes room for another.
        let login = a.login_user(&token);
        assert_eq!(login["status"], true, "{login}");
        let (status, c) = s.ws_upgrade();
        assert!(status.starts_with("HTTP/1.1 101"), "{status}");
        let (status, _) = s.ws_upgrade();
        assert!(status.starts_with("HTTP/1.1 503"), "{status}");

        // And so does one closing.
        drop(c);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, _) = s.ws_upgrade();
            if status.starts_with("HTTP/1.1 101") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "a closed socket still counts: {status}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
}
