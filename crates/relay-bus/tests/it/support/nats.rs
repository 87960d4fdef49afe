//! A real nats-server for the tests: on a free port of 127.0.0.1, its log in a temp dir,
//! stopped when dropped, and able to stop, restart on the same port, pause and resume.
//!
//! Most tests share one server per test binary ([`shared`]); the tests that stop or pause
//! their server start their own, so that the others never see it go.
//!
//! The server runs under a small shell that kills it when its standard input closes, which
//! happens when the test process exits however it exits; so even the shared server, which
//! no destructor stops, never outlives the tests.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Only keeps a server that never comes up from hanging the tests.
const START_DEADLINE: Duration = Duration::from_secs(20);

/// Whether nats-server is here; when it is not, says so and returns false, or fails the test
/// under RELAY_REQUIRE_NATS=1 (as `tests/acceptance/nats/run` sets).
pub(crate) fn available(test: &str) -> bool {
    if binary().is_some() {
        return true;
    }
    if std::env::var("RELAY_REQUIRE_NATS").is_ok_and(|v| v == "1") {
        panic!(
            "RELAY_REQUIRE_NATS=1 but nats-server is not on PATH: install the nats-server \
             package or run the tests under scripts/with-nats"
        );
    }
    eprintln!(
        "bus::{test} did not run: nats-server is not on PATH \
         (run under scripts/with-nats to test the NATS bus)"
    );
    false
}

fn binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("nats-server"))
        .find(|p| p.is_file())
}

/// The server this test binary's tests share; `None` (after a notice) without nats-server.
pub(crate) fn shared(test: &str) -> Option<&'static NatsServer> {
    static SHARED: OnceLock<NatsServer> = OnceLock::new();
    available(test).then(|| SHARED.get_or_init(|| NatsServer::start_now(true)))
}

pub(crate) struct NatsServer {
    port: u16,
    dir: tempfile::TempDir,
    running: Option<Running>,
    /// The shared server is never dropped: its shell removes the temp dir when it exits.
    owned_by_shell: bool,
}

struct Running {
    shell: Child,
    /// Closing it makes the shell kill the server.
    stdin: ChildStdin,
    pid: u32,
}

impl NatsServer {
    /// A server of the calling test's own; `None` (after a notice) without nats-server.
    pub(crate) fn start(test: &str) -> Option<NatsServer> {
        available(test).then(|| NatsServer::start_now(false))
    }

    fn start_now(owned_by_shell: bool) -> NatsServer {
        let dir = tempfile::Builder::new()
            .prefix("relay-nats.")
            .tempdir()
            .expect("temp dir");
        let mut server = NatsServer {
            port: 0,
            dir,
            running: None,
            owned_by_shell,
        };
        // A port found free can be taken before the server binds it: then another one.
        let mut why = String::new();
        for _ in 0..5 {
            server.port = free_port();
            match server.launch() {
                Ok(()) => return server,
                Err(e) => why = e,
            }
        }
        panic!(
            "nats-server did not start: {why}; its log: {}",
            server.log()
        );
    }

    /// `nats://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to its clients) and waits until it is gone.
    pub(crate) fn stop(&mut self) {
        if let Some(mut running) = self.running.take() {
            signal("KILL", running.pid);
            drop(running.stdin);
            let _ = running.shell.wait();
        }
    }

    /// Starts the server again on the same port, so that clients find it where they left it.
    pub(crate) fn restart(&mut self) {
        self.stop();
        if let Err(e) = self.launch() {
            panic!(
                "nats-server did not start again on port {}: {e}; its log: {}",
                self.port,
                self.log()
            );
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open but nothing is read from them.
    pub(crate) fn pause(&self) {
        signal("STOP", self.running.as_ref().expect("running").pid);
    }

    /// Lets a paused server go on.
    pub(crate) fn resume(&self) {
        signal("CONT", self.running.as_ref().expect("running").pid);
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nats.log")).unwrap_or_default()
    }

    fn launch(&mut self) -> Result<(), String> {
        let binary = binary().ok_or("nats-server is not on PATH")?;
        let mut shell = Command::new("sh")
            .arg("-c")
            .arg(r#""$0" "$@" & pid=$!; echo "$pid"; read -r _; kill -9 "$pid" 2>/dev/null; wait "$pid"; [ -z "$RELAY_NATS_DIR" ] || rm -rf "$RELAY_NATS_DIR""#)
            .arg(binary)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-l")
            .arg(self.dir.path().join("nats.log"))
            .env(
                "RELAY_NATS_DIR",
                if self.owned_by_shell { self.dir.path().as_os_str() } else { "".as_ref() },
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run sh: {e}"))?;
        let stdin = shell.stdin.take().expect("piped stdin");
        let mut line = String::new();
        BufReader::new(shell.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .map_err(|e| format!("no pid from the shell: {e}"))?;
        let pid: u32 = line
            .trim()
            .parse()
            .map_err(|_| format!("no pid from the shell: {line:?}"))?;
        let mut running = Running { shell, stdin, pid };
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                self.running = Some(running);
                return Ok(());
            }
            if let Ok(Some(_)) = running.shell.try_wait() {
                return Err("nats-server exited".to_owned());
            }
            if Instant::now() > deadline {
                drop(running.stdin);
                let _ = running.shell.wait();
                return Err("nats-server did not listen in time".to_owned());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn signal(name: &str, pid: u32) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}
