//! A refused login against a scripted peer that refuses every login and keeps the socket open
//! (as the real server does for a while): a caller waiting to be logged in hears the refusal at
//! once instead of waiting out its whole limit.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use relay_client::channel::{ChannelClient, ClientConfig, ClientError, Login};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// Answers every login with a status-false copy and keeps the socket open.
async fn refuse_logins(listener: TcpListener) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else { return };
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else { return };
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Text(text) = msg else { continue };
                let frame: Value = serde_json::from_str(text.as_str()).unwrap();
                if frame["type"] == "user_login" {
                    let copy = json!({"type": "copy", "body": {"request_id": frame["request_id"], "origin_type": "user_login", "status": false, "context": {"message": "invalid access token"}}});
                    let _ = ws.send(Message::text(copy.to_string())).await;
                }
            }
        });
    }
}

fn config(port: u16) -> ClientConfig {
    ClientConfig::new(format!("ws://127.0.0.1:{port}/ws"), Login::User { access_token: "t".into() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_to_be_logged_in_ends_with_the_refusal() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(refuse_logins(listener));
    let client = ChannelClient::connect(config(port), Box::new(|_| Ok(())));
    let t0 = Instant::now();
    match client.wait_logged_in(1, Duration::from_secs(5)).await {
        Err(ClientError::LoginRefused(reason)) => assert_eq!(reason, "invalid access token"),
        other => panic!("{other:?} after {:?}", t0.elapsed()),
    }
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    client.close().await;
}
