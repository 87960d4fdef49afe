//! The channel client's own liveness rules, against a scripted peer (the real server never
//! falls silent, so only a peer that does can show them): heartbeats at the configured
//! interval, a reconnect when nothing at all arrives within the receive timeout, and retries
//! with backoff until a server listens.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use relay_client::channel::{ChannelClient, ClientConfig, Login, Status};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// What the peer saw: the frames of each connection, in order.
type Seen = Arc<Mutex<Vec<Vec<Value>>>>;

/// Accepts connections on `listener`; answers each login with a status-true copy and then says
/// nothing more, whatever arrives (heartbeats included).
async fn silent_after_login(listener: TcpListener, seen: Seen) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else { return };
        let seen = seen.clone();
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else { return };
            let conn = {
                let mut s = seen.lock().unwrap();
                s.push(Vec::new());
                s.len() - 1
            };
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Text(text) = msg else { continue };
                let frame: Value = serde_json::from_str(text.as_str()).unwrap();
                seen.lock().unwrap()[conn].push(frame.clone());
                if frame["type"] == "user_login" {
                    let copy = json!({"type": "copy", "body": {"request_id": frame["request_id"], "origin_type": "user_login", "status": true, "context": {}}});
                    let _ = ws.send(Message::text(copy.to_string())).await;
                }
            }
        });
    }
}

fn config(port: u16) -> ClientConfig {
    let mut cfg = ClientConfig::new(format!("ws://127.0.0.1:{port}/ws"), Login::User { access_token: "t".into() });
    cfg.heartbeat = Duration::from_millis(100);
    cfg.receive_timeout = Duration::from_millis(700);
    cfg.backoff_min = Duration::from_millis(50);
    cfg.backoff_max = Duration::from_millis(200);
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_flow_and_a_silent_server_is_left_for_a_new_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    tokio::spawn(silent_after_login(listener, seen.clone()));
    let client = ChannelClient::connect(config(port), Box::new(|_| Ok(())));
    client.wait_logged_in(1, Duration::from_secs(5)).await.unwrap();
    // The first connection hears nothing after the login's copy, although the client keeps
    // sending heartbeats: the client must give it up and log in on a new one.
    client.wait_logged_in(2, Duration::from_secs(5)).await.unwrap();
    let first = seen.lock().unwrap()[0].clone();
    let heartbeats = first.iter().filter(|f| f["type"] == "heartbeat").count();
    // About 0.7 s of silence at one heartbeat per 0.1 s.
    assert!((3..=12).contains(&heartbeats), "{heartbeats} heartbeats on the silent connection: {first:?}");
    assert_eq!(first[0]["type"], "user_login");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_keeps_retrying_until_a_server_listens() {
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let client = ChannelClient::connect(config(port), Box::new(|_| Ok(())));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(client.status(), Status::Connecting);
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(silent_after_login(listener, Arc::default()));
    client.wait_logged_in(1, Duration::from_secs(5)).await.unwrap();
    client.close().await;
}
