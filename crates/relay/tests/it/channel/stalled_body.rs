//! A client that stops sending in the middle of a channel API request body (or of an upload) is
//! given up on, as the queue face does after 60 s, instead of holding its connection and task
//! for ever.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::server::Server;

/// Sends a request head declaring `declared` body bytes and only `partial` of them, then waits
/// for the answer; returns its status line.
fn stall(s: &Server, head: &str, declared: usize, partial: &[u8]) -> String {
    let mut tcp = TcpStream::connect(("127.0.0.1", s.port())).unwrap();
    let req = format!(
        "{head}Host: 127.0.0.1:{}\r\nContent-Length: {declared}\r\n\r\n",
        s.port()
    );
    tcp.write_all(req.as_bytes()).unwrap();
    tcp.write_all(partial).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < Duration::from_secs(80) {
        match tcp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.windows(2).any(|w| w == b"\r\n") {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    assert!(
        !text.is_empty(),
        "no answer {:?} after the body stalled",
        start.elapsed()
    );
    text.lines().next().unwrap_or("").to_owned()
}

#[test]
fn a_stalled_api_body_is_given_up_on() {
    let s = Server::start();
    let status = stall(
        &s,
        "POST /auth/sign_in HTTP/1.1\r\nContent-Type: application/json\r\n",
        100,
        br#"{"username":"#,
    );
    assert!(status.starts_with("HTTP/1.1 408"), "{status}");
}

#[test]
fn a_stalled_upload_is_given_up_on() {
    let s = Server::start();
    let status = stall(
        &s,
        "POST /file/store/ HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n",
        1000,
        b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc",
    );
    assert!(status.starts_with("HTTP/1.1 408"), "{status}");
}
