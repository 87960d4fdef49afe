//! `relay queue … --timeout` out of `Duration`'s range (about 1.8e19 s) is an error like any
//! other bad value, with exit status 1 and a message, not a panic (status 101).

use std::process::Command;

#[test]
fn a_timeout_too_large_for_a_duration_is_refused_cleanly() {
    for value in ["1e20", "-1", "0", "nan"] {
        let out = Command::new(env!("CARGO_BIN_EXE_relay"))
            .args(["queue", "pull", "--node", "af1", "--token", "t", "--url", "http://127.0.0.1:1", &format!("--timeout={value}")])
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "--timeout {value}: {err}");
        assert!(err.contains("--timeout must be a positive number of seconds"), "--timeout {value}: {err}");
    }
}
