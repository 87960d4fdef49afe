//! `relay channel join|send|watch` with a session whose access token the server refuses (it
//! expired, or was revoked): the command fails at once with the server's reason, instead of
//! waiting out its 15 s login limit and calling it a timeout.

mod channel_common;

use std::process::Command;
use std::time::{Duration, Instant};

use channel_common::{Server, BIN};

#[test]
fn a_refused_session_token_fails_the_command_with_the_reason() {
    let s = Server::start(&[]);
    s.add_account("ann@example.com", "pw-a");
    let session = s.session_file("ann");
    let run = |args: &[&str]| Command::new(BIN).arg("channel").args(args).arg("--session").arg(&session).output().unwrap();
    let login = run(&["login", "--server", &s.http(), "--email", "ann@example.com", "--password", "pw-a"]);
    assert!(login.status.success(), "{}", String::from_utf8_lossy(&login.stderr));
    let created = run(&["create", "lobby"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let ch = String::from_utf8(created.stdout).unwrap().trim().to_owned();

    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&session).unwrap()).unwrap();
    v["access_token"] = "no-longer-valid".into();
    std::fs::write(&session, v.to_string()).unwrap();

    let t0 = Instant::now();
    let out = run(&["join", &ch]);
    let took = t0.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("login refused") && err.contains("invalid access token"), "{err}");
    assert!(took < Duration::from_secs(10), "took {took:?}: {err}");
}
