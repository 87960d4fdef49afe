//! `relay serve --config FILE` and `relay config check FILE`, driven as an operator would: a
//! file keyed by the long option names, flags and environment variables over it, and a bad key
//! or value that stops the start with a message naming it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::queue_http::Request;
use crate::support::server::free_port;

use crate::support::BIN;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A `relay` command with none of the variables that would change what it reads.
fn relay(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    for var in [
        "RELAY_LISTEN",
        "RELAY_DATA",
        "RELAY_QUEUE_TOKEN",
        "RELAY_CONFIG",
        "RELAY_STORE",
        "RELAY_TRUSTED_PROXIES",
        "SCIROCCO_PORT",
        "SCIROCCO_MASTER_TOKEN",
    ] {
        c.env_remove(var);
    }
    c
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `relay serve` and waits for its `listening on`.
fn serve(cmd: &mut Command) -> Running {
    let mut child = cmd
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let up = line.contains("listening on");
            lines.push(line);
            if up {
                let _ = tx.send(Ok(lines.clone()));
            }
        }
        let _ = tx.send(Err(lines));
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(_)) => Running(child),
        other => panic!("relay serve did not start: {other:?}"),
    }
}

fn push(port: u16, token: &str, len: usize) -> u16 {
    Request::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        "POST",
        "/messageQueue",
    )
    .header("Authorization", token)
    .from("af1")
    .to("af1")
    .bytes(&vec![b'x'; len])
    .send()
    .status
}

#[test]
fn a_config_file_sets_the_options_and_flags_and_environment_override_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let file = write(
        dir.path(),
        "relay.toml",
        &format!(
            "listen = \"127.0.0.1:{port}\"\ndata = \"{}\"\nqueue-token = \"from-the-file\"\nmax-payload = 1000\nopen-signup = true\n",
            dir.path().join("data").display()
        ),
    );
    let file = file.to_str().unwrap();

    let out = relay(&["config", "check", file]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ok (5 settings)"),
        "{out:?}"
    );

    {
        let _s = serve(&mut relay(&["serve", "--config", file]));
        assert_eq!(push(port, "from-the-file", 1000), 201);
        assert_eq!(push(port, "from-the-file", 1001), 413);
        assert_eq!(push(port, "another", 10), 403);
        // open-signup = true: anyone may create an account.
        let signup = Request::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            "POST",
            "/auth/sign_up",
        )
        .json(&serde_json::json!({"username": "new@example.com", "password": "pw"}))
        .send();
        assert_eq!(signup.json()["code"], 10000, "{}", signup.describe());
        // The client commands find the server and its token in the same file.
        let out = relay(&[
            "queue", "push", "--config", file, "--node", "af2", "--to", "af2",
        ])
        .arg(r#"{"from": "the queue command"}"#)
        .output()
        .unwrap();
        assert!(out.status.success(), "{out:?}");
        let out = relay(&["queue", "pull", "--json", "--node", "af2"])
            .env("RELAY_CONFIG", file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("the queue command"),
            "{out:?}"
        );
    }
    {
        // A flag over the file's max-payload, a variable over its queue-token.
        let _s = serve(
            relay(&["serve", "--config", file, "--max-payload", "5000"])
                .env("RELAY_QUEUE_TOKEN", "from-the-environment"),
        );
        assert_eq!(push(port, "from-the-environment", 5000), 201);
        assert_eq!(push(port, "from-the-file", 10), 403);
    }
    {
        // RELAY_CONFIG names the file as --config does.
        let _s = serve(relay(&["serve"]).env("RELAY_CONFIG", file));
        assert_eq!(push(port, "from-the-file", 1001), 413);
    }
}

#[test]
fn a_key_that_may_repeat_takes_a_list() {
    let dir = tempfile::tempdir().unwrap();
    for text in [
        "trusted-proxy = [\"10.0.0.0/8\", \"::1\"]\n",
        "trusted-proxy = \"10.0.0.0/8,::1\"\n",
    ] {
        let file = write(dir.path(), "list.toml", text);
        let out = relay(&["config", "check", file.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{text:?}: {out:?}");
    }
}

#[test]
fn a_bad_key_or_value_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cases = [
        ("max-paylod = 10\n", "unknown key `max-paylod`"),
        ("max-payload = \"lots\"\n", "`max-payload` = \"lots\""),
        (
            "durability = \"sometimes\"\n",
            "`durability` = \"sometimes\"",
        ),
        (
            "open-signup = \"yes\"\n",
            "`open-signup` = \"yes\": expected true or false",
        ),
        ("listen = [1, 2]\n", "`listen` = [1, 2]"),
        ("listen = \"127.0.0.1:1\n", "not valid TOML"),
        (
            "trusted-proxy = [\"10.0.0.0/8\", \"10.0.0/8\"]\n",
            "`10.0.0/8` is not an IP address or a network",
        ),
    ];
    for (text, named) in cases {
        let file = write(dir.path(), "bad.toml", text);
        let file = file.to_str().unwrap();
        for args in [
            vec!["config", "check", file],
            vec!["serve", "--config", file, "--data", data.to_str().unwrap()],
        ] {
            let out = relay(&args).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} with {text:?} succeeded");
            assert!(stderr.contains(named), "{args:?} with {text:?}: {stderr}");
            assert!(stderr.contains("bad.toml"), "{args:?}: {stderr}");
            assert!(!stderr.contains("listening on"), "{args:?}: {stderr}");
        }
    }
    // A key that needs another is found by the check too.
    let file = write(dir.path(), "tls.toml", "tls-cert = \"cert.pem\"\n");
    let out = relay(&["config", "check", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--tls-key"),
        "{out:?}"
    );
    let missing = relay(&["config", "check", "/nonexistent/relay.toml"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/relay.toml"));
}

/// The queue cache's size as `relay serve` reports it in its `configuration` event.
fn cache_mb_of(opts: crate::support::server::Options) -> u64 {
    let mut s = crate::support::server::Server::with(opts.env("RELAY_LOG_FORMAT", "json"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let value = loop {
        let found = s.log().lines().find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["message"] == "configuration").then(|| v["cache_mb"].as_u64())
        });
        match found {
            Some(v) => break v.expect("cache_mb in the configuration"),
            None if std::time::Instant::now() > deadline => panic!("no configuration: {}", s.log()),
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    s.stop();
    value
}

#[test]
fn the_queue_cache_size_comes_from_the_flag_the_environment_or_the_file() {
    use crate::support::server::Options;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "relay.toml", "cache-mb = 5\n");
    let file = file.to_str().unwrap();
    let out = relay(&["config", "check", file]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ok (1 settings)"),
        "{out:?}"
    );
    assert_eq!(cache_mb_of(Options::default()), 64, "the default");
    assert_eq!(cache_mb_of(Options::default().args(&["--config", file])), 5);
    assert_eq!(
        cache_mb_of(
            Options::default()
                .args(&["--config", file])
                .env("RELAY_CACHE_MB", "9")
        ),
        9,
        "the variable over the file"
    );
    assert_eq!(
        cache_mb_of(
            Options::default()
                .args(&["--config", file, "--cache-mb", "0"])
                .env("RELAY_CACHE_MB", "9")
        ),
        0,
        "the flag over both"
    );
    let bad = write(dir.path(), "bad.toml", "cache-mb = -1\n");
    let out = relay(&["config", "check", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`cache-mb` = -1"),
        "{out:?}"
    );
    let out = relay(&["serve", "--cache-mb", "lots"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--cache-mb"),
        "{out:?}"
    );
}
