//! The channel client's own rules against scripted peers (the real server never misbehaves in
//! these ways, so only a peer that does can show them): heartbeats at the configured interval
//! and a reconnect when nothing at all arrives within the receive timeout; retries until a
//! server listens; a reconnect delay that keeps growing while connections open but no login
//! succeeds; a refused login reported to whoever waits for one; a login that is never
//! answered given up; and a backlog that a slowly reading server takes longer than the receive
//! timeout to accept, which is no reason to leave it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use relay_client::channel::{ChannelClient, ClientConfig, ClientError, Login, Status};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

#[derive(Clone, Copy)]
enum Peer {
    /// Completes the WebSocket handshake and closes at once.
    DropsAtOnce,
    /// Accepts the login, then says nothing more, whatever arrives (heartbeats included).
    SilentAfterLogin,
    /// Refuses every login and keeps the socket open.
    RefusesLogins,
    /// Answers heartbeats, never the login.
    IgnoresLogins,
}

/// What the peer saw: the frames of each connection, in order.
type Seen = Arc<Mutex<Vec<Vec<Value>>>>;

async fn serve(listener: TcpListener, peer: Peer, seen: Seen) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let seen = seen.clone();
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            let conn = {
                let mut s = seen.lock().unwrap();
                s.push(Vec::new());
                s.len() - 1
            };
            if let Peer::DropsAtOnce = peer {
                let _ = ws.close(None).await;
                return;
            }
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Text(text) = msg else { continue };
                let frame: Value = serde_json::from_str(text.as_str()).unwrap();
                seen.lock().unwrap()[conn].push(frame.clone());
                if frame["type"] == "heartbeat" && matches!(peer, Peer::IgnoresLogins) {
                    let copy = json!({"type": "copy", "body": {"request_id": frame["request_id"], "origin_type": "heartbeat", "status": true, "context": {}}});
                    let _ = ws.send(Message::text(copy.to_string())).await;
                }
                if frame["type"] == "user_login" && !matches!(peer, Peer::IgnoresLogins) {
                    let (status, context) = match peer {
                        Peer::RefusesLogins => (false, json!({"message": "invalid access token"})),
                        _ => (true, json!({})),
                    };
                    let copy = json!({"type": "copy", "body": {"request_id": frame["request_id"], "origin_type": "user_login", "status": status, "context": context}});
                    let _ = ws.send(Message::text(copy.to_string())).await;
                }
            }
        });
    }
}

async fn start(peer: Peer) -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    tokio::spawn(serve(listener, peer, seen.clone()));
    (port, seen)
}

fn config(port: u16) -> ClientConfig {
    let mut cfg = ClientConfig::new(
        format!("ws://127.0.0.1:{port}/ws"),
        Login::User {
            access_token: "t".into(),
        },
    );
    cfg.heartbeat = Duration::from_millis(100);
    cfg.receive_timeout = Duration::from_millis(700);
    cfg.backoff_min = Duration::from_millis(50);
    cfg.backoff_max = Duration::from_millis(200);
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_flow_and_a_silent_server_is_left_for_a_new_connection() {
    let (port, seen) = start(Peer::SilentAfterLogin).await;
    let client = ChannelClient::connect(config(port), Box::new(|_| Ok(())));
    client
        .wait_logged_in(1, Duration::from_secs(5))
        .await
        .unwrap();
    // The first connection hears nothing after the login's copy, although the client keeps
    // sending heartbeats: the client must give it up and log in on a new one.
    client
        .wait_logged_in(2, Duration::from_secs(5))
        .await
        .unwrap();
    let first = seen.lock().unwrap()[0].clone();
    let heartbeats = first.iter().filter(|f| f["type"] == "heartbeat").count();
    // About 0.7 s of silence at one heartbeat per 0.1 s.
    assert!(
        (3..=12).contains(&heartbeats),
        "{heartbeats} heartbeats on the silent connection: {first:?}"
    );
    assert_eq!(first[0]["type"], "user_login");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_keeps_retrying_until_a_server_listens() {
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = ChannelClient::connect(config(port), Box::new(|_| Ok(())));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(client.status(), Status::Connecting);
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(serve(listener, Peer::SilentAfterLogin, Arc::default()));
    client
        .wait_logged_in(1, Duration::from_secs(5))
        .await
        .unwrap();
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_drops_every_connection_at_once_gets_a_growing_delay() {
    let (port, seen) = start(Peer::DropsAtOnce).await;
    let mut cfg = config(port);
    cfg.backoff_min = Duration::from_millis(20);
    cfg.backoff_max = Duration::from_secs(2);
    let client = ChannelClient::connect(cfg, Box::new(|_| Ok(())));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    client.close().await;
    // Delays of 20, 40, 80, 160, 320 and 640 ms fill about 1.3 s: some 7 connections, not the
    // 50 or more of a delay stuck at its minimum (a socket that opens is not yet a healthy
    // connection; only a login is).
    let n = seen.lock().unwrap().len();
    assert!((2..=12).contains(&n), "{n} connections in 1.5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_to_be_logged_in_ends_with_the_refusal() {
    let (port, _) = start(Peer::RefusesLogins).await;
    let client = ChannelClient::connect(config(port), Box::new(|_| Ok(())));
    let t0 = Instant::now();
    match client.wait_logged_in(1, Duration::from_secs(5)).await {
        Err(ClientError::LoginRefused(reason)) => assert_eq!(reason, "invalid access token"),
        other => panic!("{other:?} after {:?}", t0.elapsed()),
    }
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_never_answered_is_given_up_although_heartbeats_are() {
    let (port, seen) = start(Peer::IgnoresLogins).await;
    let mut cfg = config(port);
    cfg.connect_timeout = Duration::from_millis(500);
    cfg.receive_timeout = Duration::from_secs(30);
    let client = ChannelClient::connect(cfg, Box::new(|_| Ok(())));
    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert_eq!(client.status(), Status::Connecting);
    client.close().await;
    let connections = seen.lock().unwrap().clone();
    assert!(
        connections.len() >= 2,
        "{} connection(s): the first was never given up",
        connections.len()
    );
    assert!(
        connections[0].iter().any(|f| f["type"] == "heartbeat"),
        "{:?}",
        connections[0]
    );
}

/// Answers the login late (so that what the client was given meanwhile is one backlog), then
/// reads nothing for `stall`, then reads `backlog` frames and only after the last one answers
/// them all. Counts the connections it accepts.
async fn serve_slow_reader(
    listener: TcpListener,
    backlog: usize,
    stall: Duration,
    connections: Arc<Mutex<usize>>,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        *connections.lock().unwrap() += 1;
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            let mut read = Vec::new();
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Text(text) = msg else { continue };
                let frame: Value = serde_json::from_str(text.as_str()).unwrap();
                if frame["type"] == "user_login" {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let copy = json!({"type": "copy", "body": {"request_id": frame["request_id"], "origin_type": "user_login", "status": true, "context": {}}});
                    let _ = ws.send(Message::text(copy.to_string())).await;
                    tokio::time::sleep(stall).await;
                    continue;
                }
                read.push(frame);
                if read.len() >= backlog {
                    for f in read.drain(..) {
                        let copy = json!({"type": "copy", "body": {"request_id": f["request_id"], "origin_type": f["type"], "status": true, "context": {}}});
                        let _ = ws.send(Message::text(copy.to_string())).await;
                    }
                }
            }
        });
    }
}

/// A backlog larger than the socket buffers takes the client longer to write than its receive
/// timeout, because the server reads it slowly. That time is the client's own, not the server's
/// silence: the client must not leave a connection that answers everything once it has read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_a_long_backlog_is_not_mistaken_for_a_silent_server() {
    const BACKLOG: usize = 48;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(Mutex::new(0));
    tokio::spawn(serve_slow_reader(
        listener,
        BACKLOG,
        Duration::from_millis(1500),
        connections.clone(),
    ));

    let acked = Arc::new(Mutex::new(0usize));
    let counter = acked.clone();
    let mut cfg = config(port);
    cfg.heartbeat = Duration::from_secs(30);
    let client = ChannelClient::connect(
        cfg,
        Box::new(move |f| {
            if f.ack().is_some_and(|(_, ok)| ok) {
                *counter.lock().unwrap() += 1;
            }
            Ok(())
        }),
    );
    // 12 MiB in all: far more than the kernel buffers of a socket nobody reads.
    let pad = "x".repeat(256 * 1024);
    for _ in 0..BACKLOG {
        client
            .send_frame(json!({"type": "heartbeat", "body": {"pad": pad}}))
            .unwrap();
    }
    let t0 = Instant::now();
    while *acked.lock().unwrap() < BACKLOG + 1 && t0.elapsed() < Duration::from_secs(8) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (acked, connections) = (*acked.lock().unwrap(), *connections.lock().unwrap());
    client.close().await;
    assert_eq!(
        connections, 1,
        "the client left a connection that was only slow to read ({acked} copies)"
    );
    assert_eq!(acked, BACKLOG + 1, "the login's copy and one per frame");
}
