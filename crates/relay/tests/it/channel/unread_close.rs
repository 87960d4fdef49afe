//! A socket that stops reading must still be closed on time: after a failed login (1.5 s) and
//! when it never logs in (60 s). Each test fills the server's outbound queue past what the
//! kernel buffers hold (heartbeat copies echo long request ids), stops reading, and checks that
//! the server gave up on the socket: when the client reads again, the connection ends at once,
//! without the server's whole queue behind it.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::server::Server;
use relay_wire::websocket;

/// Heartbeats sent, and the length of each one's request id (echoed in its copy).
const HEARTBEATS: usize = 300;
const ID_LEN: usize = 60_000;

fn send(tcp: &mut TcpStream, text: &str) {
    let mut out = Vec::new();
    websocket::masked_frame(websocket::OP_TEXT, text.as_bytes(), [1, 2, 3, 4], &mut out);
    tcp.write_all(&out).unwrap();
}

/// Sends heartbeats whose copies are far more than the kernel buffers between the server and
/// this socket hold.
fn flood_unread_copies(tcp: &mut TcpStream) {
    let id = "x".repeat(ID_LEN);
    for _ in 0..HEARTBEATS {
        send(
            tcp,
            &format!(r#"{{"type":"heartbeat","request_id":"{id}","body":{{}}}}"#),
        );
    }
}

/// Reads until the connection ends; returns the bytes read and how long it took. Panics if the
/// server keeps the socket open for `within`.
fn read_to_end(tcp: &mut TcpStream, within: Duration) -> (usize, Duration) {
    let start = Instant::now();
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut total = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) => return (total, start.elapsed()),
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (total, start.elapsed()),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {}
            Err(e) => panic!("reading: {e}"),
        }
        assert!(
            start.elapsed() < within,
            "the socket is still open {within:?} after the client read again ({total} bytes read)"
        );
    }
}

#[test]
fn a_failed_login_closes_a_socket_that_stopped_reading_after_1_5_s() {
    let s = Server::start();
    let mut tcp = s.raw_ws();
    flood_unread_copies(&mut tcp);
    send(
        &mut tcp,
        r#"{"type":"user_login","request_id":"l1","auth_origin":"cognito","access_token":"bogus"}"#,
    );
    // 1.5 s, a second for the close frame, 5 s for the reader to end: well within 10 s.
    std::thread::sleep(Duration::from_secs(10));
    let (bytes, took) = read_to_end(&mut tcp, Duration::from_secs(3));
    assert!(
        bytes < HEARTBEATS * ID_LEN,
        "the server kept all {bytes} bytes queued for a socket it was closing"
    );
    assert!(
        took < Duration::from_secs(1),
        "the connection ended only {took:?} after the client read again"
    );
}

#[test]
fn a_socket_that_never_logs_in_is_closed_after_60_s_even_when_it_stopped_reading() {
    let s = Server::start();
    let mut tcp = s.raw_ws();
    flood_unread_copies(&mut tcp);
    // 60 s, a second for the close frame, 5 s for the reader to end.
    std::thread::sleep(Duration::from_secs(70));
    let (bytes, took) = read_to_end(&mut tcp, Duration::from_secs(3));
    assert!(
        bytes < HEARTBEATS * ID_LEN,
        "the server kept all {bytes} bytes queued for a socket that never logged in"
    );
    assert!(
        took < Duration::from_secs(1),
        "the connection ended only {took:?} after the client read again"
    );
}
