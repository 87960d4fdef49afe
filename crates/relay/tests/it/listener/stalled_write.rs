//! A client that asks for a large response and stops reading it must not keep its connection,
//! its task and the response in memory for ever: the listener gives up on a response that makes
//! no write progress for `RELAY_HTTP_WRITE_STALL_MS`. A reader that is slow but keeps reading
//! still gets everything, however long the whole response takes.

use std::time::Duration;

use crate::support::http_raw::{read_head, read_up_to, send, small_window};
use crate::support::queue_http::node;
use crate::support::server::{Options, Server};

const STALL_ENV: &str = "RELAY_HTTP_WRITE_STALL_MS";
/// Larger than what the kernel buffers between the two ends of a loopback connection.
const BIG: usize = 16 * 1024 * 1024;

/// A server whose stall deadline is `stall_ms`, holding one BIG text message sent by the
/// returned node; returns the server, the node and the message id.
fn server_with_big_message(stall_ms: u64) -> (Server, String, String) {
    let s = Server::with(
        Options::default()
            .arg("--max-text-kb")
            .arg("16384")
            .env(STALL_ENV, stall_ms.to_string()),
    );
    let (from, to) = (node(), node());
    let text = "x".repeat(BIG);
    let id = s
        .req("POST", "/messageQueue")
        .from(&from)
        .to(&to)
        .text(&text)
        .send()
        .expect(201)
        .id();
    (s, from, id)
}

#[test]
fn a_client_that_stops_reading_a_response_is_cut_off() {
    let (s, from, id) = server_with_big_message(1000);
    let mut tcp = small_window(s.addr);
    send(
        &mut tcp,
        &s.req("GET", &format!("/messages/{id}")).from(&from),
    );
    // Read nothing for well past the deadline: the server's writes are blocked all along.
    std::thread::sleep(Duration::from_secs(4));
    let (status, len) = read_head(&mut tcp);
    assert_eq!((status, len), (200, BIG));
    let got = read_up_to(&mut tcp, len);
    assert!(got < len, "the whole {len}-byte response came although the client stopped reading for 4 s (deadline 1 s)");
    assert!(s.alive(), "server gone; log:\n{}", s.log());
}

#[test]
fn a_slow_reader_that_keeps_reading_gets_everything() {
    let (s, from, id) = server_with_big_message(1500);
    let mut tcp = small_window(s.addr);
    send(
        &mut tcp,
        &s.req("GET", &format!("/messages/{id}")).from(&from),
    );
    let (status, len) = read_head(&mut tcp);
    assert_eq!((status, len), (200, BIG));
    // 2 MiB every 400 ms: the whole body takes over 3 s, twice the deadline, but no pause
    // reaches it.
    let mut got = 0;
    while got < len {
        std::thread::sleep(Duration::from_millis(400));
        let step = read_up_to(&mut tcp, (len - got).min(2 * 1024 * 1024));
        assert!(
            step > 0,
            "the server closed the connection after {got} of {len} bytes; log:\n{}",
            s.log()
        );
        got += step;
    }
    // The connection is still usable afterwards.
    send(&mut tcp, &s.req("GET", "/"));
    assert_eq!(read_head(&mut tcp).0, 200);
}
