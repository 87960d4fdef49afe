//! Pongs are queued like any other outbound frame, so a client that sends pings and never reads
//! its pongs must hit the outbound limit and be cut off, rather than make the server hold
//! everything it sends.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use crate::support::server::{Options, Server};
use relay_wire::websocket;

#[test]
fn a_client_that_never_reads_its_pongs_is_cut_off_as_a_slow_consumer() {
    let s = Server::with(Options::default().args(&["--channel-outbound-queue", "100"]));
    let mut tcp = s.raw_ws();
    // 200,000 pongs of 127 bytes: far more than the kernel buffers hold, and far more than the
    // outbound limit (100 frames waiting, 128 being written).
    const PINGS: usize = 200_000;
    let mut burst = Vec::new();
    for _ in 0..1000 {
        websocket::masked_frame(websocket::OP_PING, &[b'p'; 125], [1, 2, 3, 4], &mut burst);
    }
    for _ in 0..PINGS / 1000 {
        if tcp.write_all(&burst).is_err() {
            break; // already cut off
        }
    }
    std::thread::sleep(Duration::from_secs(8));
    // Read what reached this socket: the connection must end, without every pong behind it.
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let start = Instant::now();
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {}
            Err(e) => panic!("reading: {e}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the socket is still open; {total} bytes of pongs read"
        );
    }
    assert!(
        total < PINGS * 127,
        "every pong was kept for a client that did not read them ({total} bytes)"
    );
}
