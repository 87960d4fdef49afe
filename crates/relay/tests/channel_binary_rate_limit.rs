//! `--channel-max-frames-per-sec` limits every data frame a connection sends: binary frames
//! (each answered with a failed copy) count as much as text frames.

mod channel_common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use channel_common::Server;
use relay_wire::websocket::{self, Masking, Parsed};

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
fn binary_frames_count_against_the_rate_limit() {
    let s = Server::start(&["--channel-max-frames-per-sec", "10"]);
    let mut tcp = open(&s);
    let mut burst = Vec::new();
    for _ in 0..200 {
        websocket::masked_frame(websocket::OP_BINARY, b"\x00\x01", [1, 2, 3, 4], &mut burst);
    }
    let _ = tcp.write_all(&burst);
    tcp.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let start = Instant::now();
    let mut buf = Vec::new();
    let (mut copies, mut close) = (0, None);
    'read: while start.elapsed() < Duration::from_secs(5) {
        let mut chunk = [0u8; 65536];
        match tcp.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {}
            Err(_) => break,
        }
        loop {
            match websocket::parse(&mut buf, 1 << 21, Masking::Forbidden) {
                Parsed::Frame { opcode, payload, len, .. } => {
                    let data = buf[payload].to_vec();
                    buf.drain(..len);
                    if opcode == websocket::OP_TEXT {
                        copies += 1;
                    } else if opcode == websocket::OP_CLOSE {
                        close = Some(String::from_utf8_lossy(&data[2..]).into_owned());
                        break 'read;
                    }
                }
                Parsed::Incomplete { .. } => break,
                Parsed::Error(_, e) => panic!("bad frame from the server: {e}"),
            }
        }
    }
    let close = close.unwrap_or_else(|| panic!("not closed after 200 binary frames at a limit of 10 per second ({copies} failed copies)"));
    assert!(close.starts_with("rate limit"), "{close}");
    assert!(copies <= 10, "{copies} failed copies");
}
