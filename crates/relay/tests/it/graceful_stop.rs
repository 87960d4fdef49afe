//! A graceful stop (SIGTERM, SIGINT) under load: the server stops taking connections, lets the
//! requests in flight finish, closes WebSockets with 1001 "going away", flushes its stores and
//! exits 0; every push answered 201 is there after the restart, even with `--durability
//! relaxed`, whose acknowledged writes reach the disk only within 100 ms.

use std::collections::HashMap;
use std::time::Duration;

use crate::support::pushers::push_until;
use crate::support::queue_http::node;
use crate::support::server::{Options, Server};
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const PUSHERS: usize = 16;
/// Pushes acknowledged before the signal: enough that it lands mid-stream.
const ACKED_BEFORE_STOP: usize = 400;
/// Only keeps a stalled server from hanging the test.
const DEADLINE: Duration = Duration::from_secs(120);

/// Connects to `/ws` and returns, once the server closes it, the close frame's code.
fn websocket_close_code(addr: std::net::SocketAddr) -> std::thread::JoinHandle<Option<u16>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
                .await
                .expect("a WebSocket to /ws");
            tx.send(()).unwrap();
            while let Some(frame) = ws.next().await {
                match frame {
                    Ok(Message::Close(close)) => return close.map(|c| u16::from(c.code)),
                    Ok(_) => {}
                    Err(_) => return None,
                }
            }
            None
        })
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the WebSocket did not open");
    handle
}

/// `PUSHERS` threads push as fast as they are answered until the server refuses them; the
/// pushes that got their 201, by id.
fn push_until_stopped(
    s: &mut Server,
    signal: &str,
) -> (HashMap<String, (String, Value)>, std::process::ExitStatus) {
    let (acked, status) = push_until(
        s,
        PUSHERS,
        ACKED_BEFORE_STOP,
        DEADLINE,
        |_| (node(), node()),
        |s| s.stop_with(signal),
    );
    let status = status.unwrap_or_else(|| panic!("no exit after SIG{signal}; log:\n{}", s.log()));
    (acked, status)
}

fn stop_under_load(durability: &str, signal: &str) {
    let mut s = Server::with(Options::default().arg("--durability").arg(durability));
    let ws = websocket_close_code(s.addr);
    let (acked, status) = push_until_stopped(&mut s, signal);
    assert!(status.success(), "exit status {status}; log:\n{}", s.log());
    assert!(s.log().contains("relay: stopped"), "log:\n{}", s.log());
    assert_eq!(
        ws.join().unwrap(),
        Some(1001),
        "the WebSocket's close code; log:\n{}",
        s.log()
    );
    assert!(
        acked.len() >= ACKED_BEFORE_STOP,
        "only {} pushes acknowledged before the stop",
        acked.len()
    );

    s.restart();
    for (id, (from, body)) in &acked {
        let r = s.get(from, id);
        assert_eq!(
            r.status,
            200,
            "push {id} was answered 201 before the stop and is gone after it; log:\n{}",
            s.log()
        );
        assert_eq!(&r.json(), body, "payload of {id}");
    }
}

#[test]
fn sigterm_under_push_load_keeps_every_acknowledged_push() {
    stop_under_load("immediate", "TERM");
}

#[test]
fn sigint_with_relaxed_durability_flushes_every_acknowledged_push() {
    stop_under_load("relaxed", "INT");
}
