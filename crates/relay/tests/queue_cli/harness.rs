//! Runs a real `relay serve` on an ephemeral port and the `relay queue` CLI as processes.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

pub(crate) const TOKEN: &str = "queue-cli-test-token";

/// Only there so that a broken server fails the test instead of hanging it.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Variables that would point the CLI or the server somewhere else if they leaked in.
const SCRUBBED_ENV: &[&str] = &[
    "RELAY_URL",
    "RELAY_NODE",
    "RELAY_QUEUE_TOKEN",
    "RELAY_DATA",
    "RELAY_STORE",
    "RELAY_LISTEN",
    "RELAY_TEST_HOOKS",
    "SCIROCCO_MASTER_TOKEN",
    "SCIROCCO_PORT",
    "SCIROCCO_TEST_HOOKS",
    "SCIROCCO_MAX_KB_SIZE_JSON",
    "SCIROCCO_MAX_KB_SIZE_TEXT",
    "SCIROCCO_MAX_KB_SIZE_RAW",
    "SCIROCCO_MAX_GET_ALL_MESSAGES",
];

pub(crate) struct Server {
    child: Child,
    pub url: String,
    data: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Server {
    /// A server with the test token.
    pub(crate) fn start() -> Server {
        Server::spawn(Some(TOKEN))
    }

    /// A server left to generate its own token (into `DATA/queue-token`).
    pub(crate) fn start_without_token() -> Server {
        Server::spawn(None)
    }

    fn spawn(token: Option<&str>) -> Server {
        let tmp = tempfile::tempdir().expect("temp dir");
        let data = tmp.path().join("data");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_relay"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data);
        if let Some(t) = token {
            cmd.args(["--queue-token", t]);
        }
        for k in SCRUBBED_ENV {
            cmd.env_remove(k);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn relay serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Keeps draining stderr after the address is found so the server never blocks on it.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = listening_addr(&line) {
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("relay serve did not print `listening on 127.0.0.1:PORT`");
            }
        };
        Server {
            child,
            url: format!("http://{addr}"),
            data,
            _tmp: tmp,
        }
    }

    pub(crate) fn data_dir(&self) -> &Path {
        &self.data
    }

    /// `relay queue ARGS --url URL --node NODE --token TOKEN`.
    pub(crate) fn queue(&self, node: &str, args: &[&str]) -> Run {
        self.queue_with(node, args, &["--token", TOKEN], None)
    }

    /// `relay queue ARGS --url URL --node NODE` plus `auth` (the token options), with `stdin`.
    pub(crate) fn queue_with(
        &self,
        node: &str,
        args: &[&str],
        auth: &[&str],
        stdin: Option<&[u8]>,
    ) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_relay"));
        cmd.arg("queue")
            .args(args)
            .args(["--url", &self.url, "--node", node])
            .args(auth);
        for k in SCRUBBED_ENV {
            cmd.env_remove(k);
        }
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn relay queue");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input)
                .expect("write stdin");
        }
        let out = child.wait_with_output().expect("relay queue output");
        Run {
            args: args.iter().map(|s| s.to_string()).collect(),
            code: out.status.code(),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listening_addr(line: &str) -> Option<String> {
    let rest = &line[line.find("listening on ")? + "listening on ".len()..];
    let addr: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ',' && *c != ')')
        .collect();
    let addr = addr.trim_start_matches("http://").trim_end_matches('/');
    addr.parse::<std::net::SocketAddr>()
        .ok()
        .map(|a| a.to_string())
}

/// A finished CLI process.
pub(crate) struct Run {
    pub args: Vec<String>,
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Asserts exit status 0 and returns stdout as text.
    #[track_caller]
    pub(crate) fn ok(&self) -> String {
        assert_eq!(
            self.code,
            Some(0),
            "relay queue {:?} failed:\nstdout: {}\nstderr: {}",
            self.args,
            self.text(),
            self.stderr
        );
        self.text()
    }

    /// Asserts exit status 0 and parses stdout as JSON.
    #[track_caller]
    pub(crate) fn json(&self) -> serde_json::Value {
        let text = self.ok();
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("stdout of {:?} is not JSON ({e}): {text}", self.args))
    }
}

/// Hex node ids unique within this test binary, so tests never share an inbox.
pub(crate) fn node() -> String {
    static N: AtomicU32 = AtomicU32::new(1);
    format!(
        "c{:05x}{:04x}",
        std::process::id() & 0xfffff,
        N.fetch_add(1, Ordering::Relaxed)
    )
}
