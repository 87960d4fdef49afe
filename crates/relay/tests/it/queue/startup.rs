//! `relay serve` as a process: clean shutdown on SIGINT/SIGTERM, refusals to start, the token
//! file an operator writes, and relaxed durability across a clean stop.

use std::time::Duration;

use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::json;

/// Time for the server to install its signal handlers after announcing that it listens. Only
/// the tests of other shutdown behaviours wait; the race itself is tested (and ignored as a
/// server bug) in `sigterm_right_after_listening_is_a_clean_shutdown`.
const SIGNAL_SETTLE: Duration = Duration::from_millis(300);

#[test]
fn sigterm_right_after_listening_is_a_clean_shutdown() {
    // A service manager may stop the server the moment it reports readiness.
    for round in 0..20 {
        let mut s = Server::start();
        let status = s
            .stop_with("TERM")
            .unwrap_or_else(|| panic!("round {round}: no exit on SIGTERM"));
        assert!(
            status.success(),
            "round {round}: exit status {status}; log:\n{}",
            s.log()
        );
    }
}

#[test]
fn sigint_and_sigterm_stop_cleanly_and_keep_data() {
    let mut s = Server::start();
    let id = s.push("a1", "b2", &json!({"kept": true})).id();
    for signal in ["INT", "TERM"] {
        std::thread::sleep(SIGNAL_SETTLE);
        let status = s
            .stop_with(signal)
            .unwrap_or_else(|| panic!("no exit on SIG{signal}; log:\n{}", s.log()));
        assert!(
            status.success(),
            "SIG{signal} exit status {status}; log:\n{}",
            s.log()
        );
        s.restart();
        assert_eq!(s.get("a1", &id).expect(200).json(), json!({"kept": true}));
    }
}

#[test]
fn shutdown_is_not_held_up_by_stuck_clients() {
    use std::io::Write;
    let mut s = Server::start();
    let id = s.push("a1", "b2", &json!({})).id();
    // One idle keep-alive connection and one that stopped in the middle of a body.
    let mut idle = Conn::open(s.addr).unwrap();
    idle.send(&s.req("GET", "/")).unwrap().expect(200);
    let mut stalled = std::net::TcpStream::connect(s.addr).unwrap();
    let head = format!(
        "POST /messageQueue HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nScirocco-From: a1\r\nScirocco-To: b2\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nhalf",
        s.token
    );
    stalled.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(SIGNAL_SETTLE);
    let status = s.stop_with("TERM").unwrap_or_else(|| {
        panic!(
            "stuck clients kept the server from stopping; log:\n{}",
            s.log()
        )
    });
    assert!(status.success(), "exit status {status}; log:\n{}", s.log());
    drop((idle, stalled));
    s.restart();
    s.get("a1", &id).expect(200);
    s.pull("b2").expect(200);
    s.pull("b2").expect(204);
}

#[test]
fn relaxed_durability_keeps_everything_across_a_clean_stop() {
    let mut s = Server::with(Options::default().arg("--durability").arg("relaxed"));
    let ids: Vec<String> = (0..100)
        .map(|i| s.push("a1", "b2", &json!({"i": i})).id())
        .collect();
    assert!(s.stop(), "no exit on SIGTERM; log:\n{}", s.log());
    s.restart();
    for (i, id) in ids.iter().enumerate() {
        let r = s.pull("b2").expect(200);
        assert_eq!((&r.id(), r.json()), (id, json!({"i": i})));
    }
}

#[test]
fn port_in_use_is_a_startup_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut opts = Options::default()
        .arg("--listen")
        .arg(taken.local_addr().unwrap().to_string());
    opts.listen = false;
    let err = Server::try_with(opts)
        .err()
        .expect("started on a port that is in use");
    assert!(!err.contains("exit status: 0"), "{err}");
}

#[test]
fn second_server_on_the_same_data_dir_is_refused() {
    let first = Server::start();
    let id = first.push("a1", "b2", &json!({"owner": "first"})).id();
    let opts = Options {
        data_dir: Some(first.data_dir().to_path_buf()),
        ..Options::default()
    };
    if let Ok(second) = Server::try_with(opts) {
        panic!(
            "a second server opened the same data dir; its log:\n{}",
            second.log()
        );
    }
    assert_eq!(first.pull("b2").expect(200).id(), id);
}

#[test]
fn operator_written_token_file_is_used() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("queue-token"),
        "operator-chosen-token-0123456789\n",
    )
    .unwrap();
    let s = Server::with(Options {
        data_dir: Some(data),
        ..Options::default().token(None)
    });
    assert_eq!(s.token, "operator-chosen-token-0123456789");
    s.req("GET", "/").send().expect(200);
    // The file's trailing newline is not part of the token, and nothing else is accepted.
    assert_error(
        &s.anon("GET", "/")
            .header("Authorization", "operator-chosen-token-012345678")
            .send(),
        403,
        "Incorrect auth token.",
    );
}

#[test]
fn unusable_data_dir_is_a_startup_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let opts = Options {
        data_dir: Some(file),
        ..Options::default()
    };
    assert!(
        Server::try_with(opts).is_err(),
        "started with a plain file as data dir"
    );
}

#[test]
fn corrupt_store_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let junk: Vec<u8> = (0..64 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let store = data.join("queue.redb");
    std::fs::write(&store, &junk).unwrap();
    let opts = Options {
        data_dir: Some(data),
        ..Options::default()
    };
    if let Ok(s) = Server::try_with(opts) {
        panic!("served on top of a corrupt store; log:\n{}", s.log());
    }
    assert_eq!(
        std::fs::read(&store).unwrap(),
        junk,
        "the unreadable store was modified"
    );
}

#[test]
fn bad_settings_are_startup_errors() {
    for opts in [
        Options::default().arg("--durability").arg("sometimes"),
        Options::default().arg("--visibility-timeout").arg("soon"),
        Options::default().arg("--max-payload").arg("-1"),
        Options {
            listen: false,
            ..Options::default().env("SCIROCCO_PORT", "http")
        },
    ] {
        let args = opts.args.clone();
        assert!(
            Server::try_with(opts).is_err(),
            "started with bad settings {args:?}"
        );
    }
}
