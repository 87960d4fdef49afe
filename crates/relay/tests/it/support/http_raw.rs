//! Raw-socket helpers for the listener's robustness tests (`http_*.rs`): a client whose receive
//! window is small, so that not reading really stops the server's writes, and response reading
//! that controls exactly how much is read and when.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::queue_http::Request;

/// The client's receive buffer: small, so the server's writes stall after a few MiB at most
/// (the server's own socket buffer) however the machine tunes TCP.
const SMALL_RCVBUF: u32 = 16 * 1024;

/// A blocking connection with a small receive buffer (set before connecting, as the window is
/// negotiated then) and a read timeout that only guards against a hung test.
pub(crate) fn small_window(addr: SocketAddr) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(SMALL_RCVBUF).unwrap();
        socket.connect(addr).await.unwrap()
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// Writes a request without reading anything back.
pub(crate) fn send(stream: &mut TcpStream, req: &Request) {
    stream.write_all(&req.wire()).unwrap();
}

/// Reads a response head byte by byte (nothing of the body is consumed); returns the status and
/// the Content-Length.
pub(crate) fn read_head(stream: &mut TcpStream) -> (u16, usize) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("reading the response head");
        assert!(
            n == 1,
            "connection closed in the response head: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad head {text:?}"));
    let len = text
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        })
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Content-Length in {text:?}"));
    (status, len)
}

/// Reads until `want` bytes came or the server closed the connection; returns how many came.
pub(crate) fn read_up_to(stream: &mut TcpStream, want: usize) -> usize {
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0;
    while got < want {
        let n = match stream.read(&mut buf[..(want - got).min(256 * 1024)]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the body after {got} bytes: {e}"),
        };
        got += n;
    }
    got
}
