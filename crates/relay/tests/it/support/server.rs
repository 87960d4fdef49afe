//! The one launcher of a real `relay serve` for every face's tests: a child process on an
//! ephemeral port with a temporary data directory, its stderr kept for assertion messages.
//!
//! A restart keeps the port, so clients that reconnect to the same address (the channel SDK's
//! way) find the server again; a fresh server always asks the kernel for a free port, so there is
//! no window in which another process can take it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use super::BIN;

/// The token most tests configure with `--queue-token`.
pub(crate) const TOKEN: &str = "relay-queue-test-token";

/// Generous limits that only exist so a broken server cannot hang the suite.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Variables that would change the server's or a client command's behaviour if they leaked in
/// from the environment the tests happen to run in.
pub(crate) const SCRUBBED_ENV: &[&str] = &[
    "RELAY_URL",
    "RELAY_NODE",
    "RELAY_QUEUE_TOKEN",
    "RELAY_LISTEN",
    "RELAY_DATA",
    "RELAY_STORE",
    "RELAY_TEST_HOOKS",
    "RELAY_TLS_CERT",
    "RELAY_TLS_KEY",
    "RELAY_CONFIG",
    "RELAY_METRICS_LISTEN",
    "RELAY_LOG_FORMAT",
    "RELAY_TRUSTED_PROXIES",
    "SCIROCCO_MASTER_TOKEN",
    "SCIROCCO_PORT",
    "SCIROCCO_TEST_HOOKS",
    "SCIROCCO_MAX_KB_SIZE_JSON",
    "SCIROCCO_MAX_KB_SIZE_TEXT",
    "SCIROCCO_MAX_KB_SIZE_RAW",
    "SCIROCCO_MAX_GET_ALL_MESSAGES",
];

/// How to start the server. `Default` gives `--listen 127.0.0.1:0 --queue-token TOKEN`.
#[derive(Clone)]
pub(crate) struct Options {
    /// Passed as `--queue-token`; `None` leaves the token to the environment or the token file.
    pub token: Option<String>,
    /// Pass `--listen 127.0.0.1:0`; when false the test picks the address itself (through
    /// `SCIROCCO_PORT` or its own `--listen`).
    pub listen: bool,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// An existing data directory to use instead of a fresh temporary one.
    pub data_dir: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            token: Some(TOKEN.to_string()),
            listen: true,
            args: Vec::new(),
            env: Vec::new(),
            data_dir: None,
        }
    }
}

impl Options {
    pub(crate) fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }
    pub(crate) fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }
    pub(crate) fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
    pub(crate) fn hooks(self) -> Self {
        self.env("RELAY_TEST_HOOKS", "1")
    }
    pub(crate) fn token(mut self, t: Option<&str>) -> Self {
        self.token = t.map(str::to_string);
        self
    }
}

/// A running `relay serve`; dropped, it is killed (SIGKILL: nothing to wait for).
pub(crate) struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    /// The token requests are sent with: the configured one, or the one read from the token file.
    pub token: String,
    data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    opts: Options,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// A server with default options on a fresh data directory.
    pub(crate) fn start() -> Server {
        Server::with(Options::default())
    }

    pub(crate) fn with(opts: Options) -> Server {
        Server::try_with(opts).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like `with`, but a server that exits before listening is an `Err` with its exit status
    /// and stderr, for tests that expect a refusal to start.
    pub(crate) fn try_with(opts: Options) -> Result<Server, String> {
        let (data_dir, tmp) = match &opts.data_dir {
            Some(d) => (d.clone(), None),
            None => {
                let tmp = tempfile::tempdir().expect("temp data dir");
                (tmp.path().join("data"), Some(tmp))
            }
        };
        let mut s = Server {
            child: None,
            addr: "127.0.0.1:0".parse().unwrap(),
            token: String::new(),
            data_dir,
            _tmp: tmp,
            opts,
            log: Arc::new(Mutex::new(String::new())),
        };
        s.try_spawn()?;
        Ok(s)
    }

    pub(crate) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Everything the server wrote on stderr so far, for assertion messages.
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn spawn(&mut self) {
        self.try_spawn().unwrap_or_else(|e| panic!("{e}"));
    }

    fn try_spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve").arg("--data").arg(&self.data_dir);
        if self.opts.listen {
            // The first start takes any free port; a restart takes the same one again.
            cmd.arg("--listen").arg(self.addr.to_string());
        }
        if let Some(t) = &self.opts.token {
            cmd.arg("--queue-token").arg(t);
        }
        cmd.args(&self.opts.args);
        for k in SCRUBBED_ENV {
            cmd.env_remove(k);
        }
        for (k, v) in &self.opts.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn relay serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let log = self.log.clone();
        // Keeps draining stderr after the address is found so the server never blocks on it.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                log.lock().unwrap().push_str(&line);
                log.lock().unwrap().push('\n');
                if !sent {
                    if let Some(addr) = parse_listening(&line) {
                        let _ = tx.send(addr);
                        sent = true;
                    }
                }
            }
        });
        self.child = Some(child);
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let addr = loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(addr) => break addr,
                Err(_) => {
                    if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                        self.child = None;
                        // Let the reader thread collect the last lines.
                        std::thread::sleep(Duration::from_millis(100));
                        return Err(format!(
                            "relay serve exited with {status} before listening; stderr:\n{}",
                            self.log()
                        ));
                    }
                    if Instant::now() > deadline {
                        self.kill9();
                        return Err(format!(
                            "relay serve did not print `listening on` in time; stderr:\n{}",
                            self.log()
                        ));
                    }
                }
            }
        };
        self.addr = addr;
        self.token = match &self.opts.token {
            Some(t) => t.clone(),
            None => self
                .env_token()
                .unwrap_or_else(|| self.token_file().unwrap_or_default()),
        };
        Ok(())
    }

    fn env_token(&self) -> Option<String> {
        for name in ["RELAY_QUEUE_TOKEN", "SCIROCCO_MASTER_TOKEN"] {
            if let Some((_, v)) = self.opts.env.iter().find(|(k, _)| k == name) {
                return Some(v.clone());
            }
        }
        None
    }

    /// The generated token in `DIR/queue-token`, if there is one.
    pub(crate) fn token_file(&self) -> Option<String> {
        std::fs::read_to_string(self.data_dir.join("queue-token"))
            .ok()
            .map(|s| s.trim().to_string())
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// SIGTERM, then wait for the process to exit; returns whether it exited by itself in time.
    pub(crate) fn stop(&mut self) -> bool {
        self.stop_with("TERM").is_some()
    }

    /// Sends `signal` (a `kill` name such as `TERM` or `INT`) and waits; the exit status, or
    /// `None` when the process had to be killed because it did not exit in time.
    pub(crate) fn stop_with(&mut self, signal: &str) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        // Through sh's builtin `kill`: a `kill` binary is not on every minimal machine.
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -{signal} {}", child.id()))
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: the process gets no chance to flush anything.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then starts again on the same port and data directory.
    pub(crate) fn restart(&mut self) {
        if self.child.is_some() {
            assert!(
                self.stop(),
                "server did not stop on SIGTERM; stderr:\n{}",
                self.log()
            );
        }
        self.spawn();
    }

    /// `kill -9`, then starts again on the same port and data: what a crash leaves.
    pub(crate) fn crash_and_restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// `http://ADDR`, the base of every HTTP face.
    pub(crate) fn http(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://ADDR/ws`, the channel face's socket.
    pub(crate) fn ws(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// `relay account add` against this server's data directory.
    pub(crate) fn add_account(&self, email: &str, password: &str) {
        let out = Command::new(BIN)
            .args(["account", "add", email, "--password", password, "--data"])
            .arg(self.data_dir())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Where a channel client command keeps `who`'s session, inside this server's temp dir.
    pub(crate) fn session_file(&self, who: &str) -> PathBuf {
        self.data_dir.join(format!("{who}.session.json"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The address in a `listening on ADDR` log line, as `relay serve` prints it.
pub(crate) fn parse_listening(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on ")? + "listening on ".len()..];
    let token: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | ')' | '"'))
        .collect();
    token
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .parse()
        .ok()
}

/// A port that was free a moment ago, for tests that must choose the port themselves.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
