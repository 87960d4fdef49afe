//! Out of file descriptors (EMFILE), the server keeps serving the connections it has, takes the
//! waiting ones as soon as descriptors are free again, and says so in its log once rather than
//! twenty times a second for as long as it lasts.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use crate::support::server::Server;

/// Sends `GET /` and waits up to `wait` for the start of an answer.
fn answered(tcp: &mut TcpStream, token: &str, wait: Duration) -> bool {
    let req = format!("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\r\n");
    if tcp.write_all(req.as_bytes()).is_err() {
        return false;
    }
    read_answer(tcp, wait)
}

fn read_answer(tcp: &mut TcpStream, wait: Duration) -> bool {
    tcp.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 4096];
    matches!(tcp.read(&mut buf), Ok(n) if n > 0 && buf.starts_with(b"HTTP/1.1 200"))
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[test]
fn out_of_descriptors_the_server_keeps_serving_and_recovers() {
    let s = Server::start();
    let mut kept = TcpStream::connect(s.addr).unwrap();
    assert!(answered(&mut kept, &s.token, Duration::from_secs(10)));

    let limit = open_fds(s.pid()) + 2;
    let status = Command::new("prlimit")
        .arg("--pid")
        .arg(s.pid().to_string())
        .arg(format!("--nofile={limit}:{limit}"))
        .status()
        .expect("running prlimit (util-linux)");
    assert!(status.success(), "prlimit failed");

    // Connect until the server can take no more: the last one waits in the listen queue.
    let mut served = Vec::new();
    let mut waiting = None;
    for _ in 0..10 {
        let mut tcp = TcpStream::connect(s.addr).unwrap();
        if answered(&mut tcp, &s.token, Duration::from_secs(1)) {
            served.push(tcp);
        } else {
            waiting = Some(tcp);
            break;
        }
    }
    let mut waiting =
        waiting.expect("the server accepted 10 connections over its descriptor limit");

    std::thread::sleep(Duration::from_secs(2));
    assert!(
        answered(&mut kept, &s.token, Duration::from_secs(5)),
        "a connected client was not served while descriptors ran out"
    );
    let warnings = s.log().matches("accept failed").count();
    assert!(
        warnings <= 2,
        "{warnings} accept warnings in 2 s of EMFILE; log:\n{}",
        s.log()
    );

    drop(served);
    assert!(
        read_answer(&mut waiting, Duration::from_secs(10)),
        "the waiting client was not served once descriptors were free; log:\n{}",
        s.log()
    );
    assert!(s.alive(), "log:\n{}", s.log());
}
