//! `relay queue` and `relay account` when standard output cannot be written (a reader that went
//! away, as with `| head`, or a full disk): an error and exit status 1, never a panic.

use std::process::{Command, Output, Stdio};

use crate::support::queue_http::node;
use crate::support::server::{Server, TOKEN};
use crate::support::BIN;

/// Runs `args` with standard output on /dev/full (every write fails with ENOSPC).
fn to_full_disk(args: &[&str]) -> Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    Command::new(BIN)
        .args(args)
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// Runs `args` with standard output on a pipe nobody reads any more.
fn to_closed_pipe(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

fn assert_write_error(what: &str, out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    assert!(err.contains("writing to standard output"), "{what}: {err}");
}

#[test]
fn queue_output_that_cannot_be_written_is_an_error() {
    let server = Server::start();
    let n = node();
    let conn = ["--url", &server.http(), "--node", &n, "--token", TOKEN];
    let with = |args: &[&'static str]| -> Vec<String> {
        args.iter()
            .chain(conn.iter())
            .map(|s| s.to_string())
            .collect()
    };
    for args in [
        with(&["queue", "push", "--to", "af1", "x"]),
        with(&["queue", "delete", "--all"]),
        with(&["queue", "pull", "--json"]),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_write_error(&format!("{args:?} to /dev/full"), &to_full_disk(&args));
        assert_write_error(
            &format!("{args:?} to a closed pipe"),
            &to_closed_pipe(&args),
        );
    }
}

#[test]
fn account_output_that_cannot_be_written_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = to_full_disk(&[
        "account",
        "add",
        "ann@example.com",
        "--password",
        "pw",
        "--name",
        "Ann",
        "--data",
        data,
    ]);
    assert_write_error("account add to /dev/full", &out);
    assert_write_error(
        "account list to a closed pipe",
        &to_closed_pipe(&["account", "list", "--data", data]),
    );
}
