//! `--channel-max-frames-per-sec` limits every data frame a connection sends: binary frames
//! (each answered with a failed copy) count as much as text frames.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use crate::support::server::{Options, Server};
use relay_wire::websocket::{self, Masking, Parsed};

#[test]
fn binary_frames_count_against_the_rate_limit() {
    let s = Server::with(Options::default().args(&["--channel-max-frames-per-sec", "10"]));
    let mut tcp = s.raw_ws();
    let mut burst = Vec::new();
    for _ in 0..200 {
        websocket::masked_frame(websocket::OP_BINARY, b"\x00\x01", [1, 2, 3, 4], &mut burst);
    }
    let _ = tcp.write_all(&burst);
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
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
                Parsed::Frame {
                    opcode,
                    payload,
                    len,
                    ..
                } => {
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
