//! What the console commands print when there is no instance to talk to: the address, the hint
//! and the cause, each once.

use std::process::{Command, Output};

use crate::support::BIN;

/// Runs `relay ARGS` with the console address taken from `MOULTI_*` as given here only.
fn relay(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("MOULTI_SOCKET_PATH")
        .env_remove("MOULTI_INSTANCE");
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

#[test]
fn a_missing_socket_file_is_reported_with_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.socket");
    let socket = socket.to_str().unwrap();
    let out = relay(
        &["step", "add", "s1", "--title", "t"],
        &[("MOULTI_SOCKET_PATH", socket)],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim_end(),
        format!(
            "relay: no console instance at {socket} (start one with `relay init`, or set \
             MOULTI_INSTANCE / MOULTI_SOCKET_PATH): No such file or directory (os error 2)"
        )
    );
    assert_eq!(err.matches("os error").count(), 1, "{err}");
}

#[test]
fn wait_names_the_address_and_the_cause_once_per_attempt() {
    let instance = format!("nobody-here-{}", std::process::id());
    let out = relay(
        &["wait", "--verbose", "--max-attempts", "2", "--delay", "1"],
        &[("MOULTI_INSTANCE", &instance)],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for (i, line) in lines[..2].iter().enumerate() {
        let (head, cause) = line.split_once(": ").unwrap();
        assert!(
            head.starts_with(&format!("Connection #{} to @moulti-", i + 1))
                && head.ends_with(&format!("-{instance}.socket")),
            "{line}"
        );
        assert_eq!(cause, "Connection refused (os error 111)", "{line}");
    }
    assert_eq!(lines[2], "Giving up.");
}
