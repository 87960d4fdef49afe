//! A client that sends frames faster than the server handles them (large frames stay under the
//! rate limit, which counts frames as they are handled) must not take the server from everyone
//! else: other sockets are still answered while such clients keep every worker thread busy.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::server::Server;
use crate::support::ws::Ws;
use serde_json::json;

#[test]
fn other_sockets_are_answered_while_one_client_floods_the_server() {
    let s = Server::start();
    let other = Ws::open(&s);
    assert_eq!(
        other.request_as(json!({"type": "heartbeat", "body": {}}), "before")["status"],
        true
    );

    // One flooder per worker thread of the server's runtime (one per CPU).
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let flooding = Arc::new(AtomicBool::new(true));
    let senders: Vec<_> = (0..workers)
        .map(|_| {
            let flooder = Ws::open(&s);
            let flooding = flooding.clone();
            // Heartbeats padded with an ignored key: each one costs the server a 256 KiB parse.
            let frame = Ws::encode(&json!({"type": "heartbeat", "request_id": "f", "body": {}, "padding": "x".repeat(256 * 1024)}));
            let started = Instant::now();
            std::thread::spawn(move || {
                while flooding.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(15) {
                    if !flooder.send_raw(&frame) {
                        break;
                    }
                }
                flooder
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        senders.iter().all(|t| !t.is_finished()),
        "a flooder was cut off"
    );
    assert!(other.send(&json!({"type": "heartbeat", "request_id": "during", "body": {}})));
    let deadline = Instant::now() + Duration::from_secs(8);
    let answered = loop {
        if other
            .frames()
            .iter()
            .any(|f| f["body"]["request_id"] == "during")
        {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let still_flooding = senders.iter().all(|t| !t.is_finished());
    flooding.store(false, Ordering::Relaxed);
    let flooders: Vec<Ws> = senders.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(
        answered,
        "a heartbeat sent while another client floods was not answered within 8 s"
    );
    assert!(
        still_flooding,
        "the flood ended before the heartbeat was answered"
    );
    for f in &flooders {
        assert!(
            f.closed().is_none(),
            "a flooder was closed: {:?}",
            f.closed()
        );
    }
}
