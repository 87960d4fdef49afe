//! The channel client against a scripted peer that accepts every connection and drops it at
//! once: the reconnect delay must keep growing (a socket that opens is not yet a healthy
//! connection; only a login is).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use relay_client::channel::{ChannelClient, ClientConfig, Login};
use tokio::net::TcpListener;

/// Completes every WebSocket handshake and closes the socket at once; counts the connections.
async fn open_then_close(listener: TcpListener, count: Arc<AtomicUsize>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else { return };
        count.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            if let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await {
                let _ = ws.close(None).await;
            }
        });
    }
}

fn config(port: u16) -> ClientConfig {
    let mut cfg = ClientConfig::new(format!("ws://127.0.0.1:{port}/ws"), Login::User { access_token: "t".into() });
    cfg.backoff_min = Duration::from_millis(20);
    cfg.backoff_max = Duration::from_secs(2);
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_drops_every_connection_at_once_gets_a_growing_delay() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    tokio::spawn(open_then_close(listener, count.clone()));
    let client = ChannelClient::connect(config(port), Box::new(|_| Ok(())));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    client.close().await;
    // Delays of 20, 40, 80, 160, 320 and 640 ms fill about 1.3 s: some 7 connections, not the
    // 50 or more of a delay stuck at its minimum.
    let n = count.load(Ordering::SeqCst);
    assert!((2..=12).contains(&n), "{n} connections in 1.5 s");
}
