//! `relay account` and `relay channel` from a terminal: two users, a channel without a
//! service (a plain group chat), join, send and watch.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::server::Server;
use crate::support::BIN;

fn relay(s: &Server, who: &str, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["channel"])
        .args(args)
        .arg("--session")
        .arg(s.session_file(who))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "relay channel {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Starts `relay channel watch` for `who`, returning once it is logged in (it says so on stderr).
fn watch_logged_in(s: &Server, who: &str, ch: &str, count: usize) -> std::process::Child {
    let mut watch = Command::new(BIN)
        .args([
            "channel",
            "watch",
            ch,
            "--count",
            &count.to_string(),
            "--session",
        ])
        .arg(s.session_file(who))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(watch.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("watching"), "{line}");
    // Keep reading, so that later notes of the watcher never meet a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    watch
}

#[test]
fn login_create_join_send_and_watch() {
    let s = Server::start();
    s.add_account("ann@example.com", "pw-a");
    s.add_account("ben@example.com", "pw-b");
    let list = Command::new(BIN)
        .args(["account", "list", "--data"])
        .arg(s.data_dir())
        .output()
        .unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.contains("ann@example.com") && list.contains("ben@example.com"),
        "{list}"
    );

    let ann = relay(
        &s,
        "ann",
        &[
            "login",
            "--server",
            &s.http(),
            "--email",
            "ann@example.com",
            "--password",
            "pw-a",
        ],
    );
    let ann_id = ann.trim().strip_prefix("logged in as ").unwrap().to_owned();
    relay(
        &s,
        "ben",
        &[
            "login",
            "--server",
            &s.http(),
            "--email",
            "ben@example.com",
            "--password",
            "pw-b",
        ],
    );
    let ch = relay(&s, "ann", &["create", "lobby", "--description", "talk"])
        .trim()
        .to_owned();
    assert!(relay(&s, "ann", &["list"]).contains("lobby"));
    relay(&s, "ben", &["join", &ch]);
    assert!(relay(&s, "ben", &["list"]).contains(&ch));

    let mut watch = watch_logged_in(&s, "ben", &ch, 2);
    relay(&s, "ann", &["send", &ch, "hello ben"]);
    relay(&s, "ann", &["send", &ch, "second"]);
    wait_for_watch(&mut watch, "both messages");
    let out = std::io::read_to_string(watch.stdout.take().unwrap()).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].ends_with(&format!("{ann_id}: hello ben")), "{out}");
    assert!(lines[1].ends_with("second"), "{out}");

    // A late watcher resumes from an offset and gets what it missed.
    let first_offset: u64 = lines[0]
        .trim_start_matches('#')
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let replay = Command::new(BIN)
        .args([
            "channel",
            "watch",
            &ch,
            "--after",
            &first_offset.to_string(),
            "--count",
            "1",
            "--session",
        ])
        .arg(s.session_file("ben"))
        .output()
        .unwrap();
    let replay = String::from_utf8(replay.stdout).unwrap();
    assert!(replay.trim_end().ends_with("second"), "{replay}");

    relay(&s, "ben", &["leave", &ch]);
    assert!(!relay(&s, "ben", &["list"]).contains(&ch));
}

#[test]
fn bad_credentials_and_missing_session_fail_clearly() {
    let s = Server::start();
    s.add_account("ann@example.com", "pw-a");
    let out = Command::new(BIN)
        .args([
            "channel",
            "login",
            "--server",
            &s.http(),
            "--email",
            "ann@example.com",
            "--password",
            "nope",
            "--session",
        ])
        .arg(s.session_file("x"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid credentials"));
    let out = Command::new(BIN)
        .args(["channel", "list", "--session"])
        .arg(s.session_file("none"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("relay channel login"));
}

/// The watcher's own account sending a message takes the watcher's socket over (the newest
/// login wins); the watch logs in again and resumes, so it still shows that message.
#[test]
fn watch_resumes_after_its_account_logs_in_elsewhere() {
    let s = Server::start();
    let ch = ann_and_ben_in_a_lobby(&s);

    let mut watch = watch_logged_in(&s, "ben", &ch, 2);
    let mut out = BufReader::new(watch.stdout.take().unwrap());
    relay(&s, "ann", &["send", &ch, "one"]);
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.trim_end().ends_with(": one"), "{first}");
    relay(&s, "ben", &["send", &ch, "from ben himself"]);
    wait_for_watch(
        &mut watch,
        "the message sent while its socket was taken over",
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(
        rest.lines().any(|l| l.ends_with(": from ben himself")),
        "{rest}"
    );
}

/// The same takeover before the watch has seen any message (the quick start's order: watch,
/// then send as the same account): the watch knows where the log ended when it started and
/// resumes there.
#[test]
fn watch_taken_over_before_its_first_message_still_shows_it() {
    let s = Server::start();
    let ch = ann_and_ben_in_a_lobby(&s);
    relay(&s, "ann", &["send", &ch, "before the watch started"]);

    let mut watch = watch_logged_in(&s, "ben", &ch, 1);
    relay(&s, "ben", &["send", &ch, "first words"]);
    wait_for_watch(
        &mut watch,
        "the message sent while its socket was taken over",
    );
    let out = std::io::read_to_string(watch.stdout.take().unwrap()).unwrap();
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.trim_end().ends_with(": first words"), "{out}");
}

/// Waits for a `watch --count N` to end once it has shown its N messages.
fn wait_for_watch(watch: &mut std::process::Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while watch.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = watch.kill();
            panic!("the watch never showed {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Ann and Ben logged in from the CLI, Ann's channel "lobby" with Ben joined; its id.
fn ann_and_ben_in_a_lobby(s: &Server) -> String {
    s.add_account("ann@example.com", "pw-a");
    s.add_account("ben@example.com", "pw-b");
    relay(
        s,
        "ann",
        &[
            "login",
            "--server",
            &s.http(),
            "--email",
            "ann@example.com",
            "--password",
            "pw-a",
        ],
    );
    relay(
        s,
        "ben",
        &[
            "login",
            "--server",
            &s.http(),
            "--email",
            "ben@example.com",
            "--password",
            "pw-b",
        ],
    );
    let ch = relay(s, "ann", &["create", "lobby"]).trim().to_owned();
    relay(s, "ben", &["join", &ch]);
    ch
}

/// `relay channel join|send|watch` with a session whose access token the server refuses (it
/// expired, or was revoked): the command fails at once with the server's reason, instead of
/// waiting out its 15 s login limit and calling it a timeout.
#[test]
fn a_refused_session_token_fails_the_command_with_the_reason() {
    let s = Server::start();
    s.add_account("ann@example.com", "pw-a");
    let session = s.session_file("ann");
    let run = |args: &[&str]| {
        Command::new(BIN)
            .arg("channel")
            .args(args)
            .arg("--session")
            .arg(&session)
            .output()
            .unwrap()
    };
    let login = run(&[
        "login",
        "--server",
        &s.http(),
        "--email",
        "ann@example.com",
        "--password",
        "pw-a",
    ]);
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    let created = run(&["create", "lobby"]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let ch = String::from_utf8(created.stdout).unwrap().trim().to_owned();

    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&session).unwrap()).unwrap();
    v["access_token"] = "no-longer-valid".into();
    std::fs::write(&session, v.to_string()).unwrap();

    let t0 = Instant::now();
    let out = run(&["join", &ch]);
    let took = t0.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("login refused") && err.contains("invalid access token"),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}: {err}");
}

/// A session whose server is an https:// URL (so the socket is wss://, which this client cannot
/// speak): the socket commands fail at once and say why, instead of retrying until their login
/// limit and reporting a timeout.
#[test]
fn an_https_server_fails_the_socket_commands_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("session.json");
    let v = serde_json::json!({"server": "https://127.0.0.1:1", "email": "a@example.com", "user_id": "u", "access_token": "a", "refresh_token": "r"});
    std::fs::write(&session, v.to_string()).unwrap();
    for args in [
        &["join", "ch"][..],
        &["watch", "ch"],
        &["send", "ch", "hi", "--to-service"],
    ] {
        let t0 = Instant::now();
        let out = Command::new(BIN)
            .arg("channel")
            .args(args)
            .arg("--session")
            .arg(&session)
            .output()
            .unwrap();
        let took = t0.elapsed();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("wss://127.0.0.1:1/ws") && err.contains("use a ws:// URL"),
            "{args:?}: {err}"
        );
        assert!(
            took < Duration::from_secs(5),
            "{args:?} took {took:?}: {err}"
        );
    }
}

/// `watch --count 0` is a usage error: it used to wait for a message, show it and stop, one
/// message more than asked for.
#[test]
fn watch_count_zero_is_a_usage_error() {
    let out = Command::new(BIN)
        .args([
            "channel",
            "watch",
            "ch",
            "--count",
            "0",
            "--session",
            "/nonexistent/session.json",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--count"), "{err}");
}
