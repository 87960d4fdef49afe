//! Once a stop is asked for, the server takes no new connections: while it waits for a stalled
//! client's response to finish (at most the drain time), a new client is refused at once
//! instead of being left connected and unanswered until the process exits.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::http_raw::{send, small_window};
use crate::support::queue_http::node;
use crate::support::server::{Options, Server};

#[test]
fn new_connections_are_refused_while_a_stalled_client_holds_up_the_stop() {
    // The stalled client below holds the stop up for about 3 s, its write-stall deadline.
    let mut s = Server::with(
        Options::default()
            .arg("--max-text-kb")
            .arg("16384")
            .env("RELAY_HTTP_WRITE_STALL_MS", "3000"),
    );
    let (from, to) = (node(), node());
    let id = s
        .req("POST", "/messageQueue")
        .from(&from)
        .to(&to)
        .text(&"x".repeat(16 << 20))
        .send()
        .expect(201)
        .id();
    let mut stalled = small_window(s.addr);
    send(
        &mut stalled,
        &s.req("GET", &format!("/messages/{id}")).from(&from),
    );
    std::thread::sleep(Duration::from_millis(300));

    Command::new("sh")
        .arg("-c")
        .arg(format!("kill -TERM {}", s.pid()))
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.log().contains("shutting down") {
        assert!(
            Instant::now() < deadline,
            "no `shutting down` in the log:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    let attempt = std::net::TcpStream::connect_timeout(&s.addr, Duration::from_secs(5));
    assert!(
        matches!(&attempt, Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused),
        "a connection made while the server drains was {attempt:?}, not refused; log:\n{}",
        s.log()
    );
    drop(stalled);
    let status = s
        .stop_with("TERM")
        .unwrap_or_else(|| panic!("no exit after SIGTERM; log:\n{}", s.log()));
    assert!(status.success(), "exit status {status}; log:\n{}", s.log());
}
