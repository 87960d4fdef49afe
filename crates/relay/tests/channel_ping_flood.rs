//! Pongs are queued like any other outbound frame, so a client that sends pings and never reads
//! its pongs must hit the outbound limit and be cut off, rather than make the server hold
//! everything it sends.

mod channel_common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use channel_common::Server;
use relay_wire::websocket;

fn open(s: &Server) -> TcpStream {
    let mut tcp = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        s.port
    );
    tcp.write_all(req.as_bytes()).unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        assert_eq!(tcp.read(&mut b).unwrap(), 1, "the server closed during the handshake");
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    tcp
}

#[test]
fn a_client_that_never_reads_its_pongs_is_cut_off_as_a_slow_consumer() {
    let s = Server::start(&["--channel-outbound-queue", "100"]);
    let mut tcp = open(&s);
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
    tcp.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
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
        assert!(start.elapsed() < Duration::from_secs(5), "the socket is still open; {total} bytes of pongs read");
    }
    assert!(total < PINGS * 127, "every pong was kept for a client that did not read them ({total} bytes)");
}
