//! Shared helpers for the channel integration tests: a `relay serve` child process on an
//! ephemeral port with a temporary data directory. Included by the `channel_*` tests with
//! `mod channel_common;`; compiled alone it holds no tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use relay_client::channel::ChannelHttp;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_relay");

pub(crate) struct Server {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    extra: Vec<String>,
    env: Vec<(String, String)>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    pub(crate) fn start(extra: &[&str]) -> Server {
        Server::start_with_env(extra, &[])
    }

    /// Starts the server with extra arguments and environment variables.
    pub(crate) fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut s = Server {
            dir: tempfile::tempdir().unwrap(),
            port: free_port(),
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        s.spawn();
        s
    }

    pub(crate) fn data(&self) -> &Path {
        self.dir.path()
    }

    fn spawn(&mut self) {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{}", self.port),
                "--queue-token",
                "x",
                "--data",
            ])
            .arg(self.dir.path())
            .args(&self.extra)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("starting relay serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut told = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !told && line.contains("listening on") {
                    let _ = tx.send(());
                    told = true;
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("relay serve did not report listening");
        self.child = Some(child);
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub(crate) fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// `kill -9` and start again on the same port and data: what a crash leaves.
    pub(crate) fn crash_and_restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.spawn();
    }

    /// The running server's process id, for tests that send it signals.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    pub(crate) fn http(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A blocking TCP stream to `/ws` after the WebSocket handshake, for tests that send raw
    /// frames or stop reading.
    pub(crate) fn raw_ws(&self) -> std::net::TcpStream {
        let (status, tcp) = self.ws_upgrade();
        assert!(status.starts_with("HTTP/1.1 101"), "{status}");
        tcp
    }

    /// Asks for a WebSocket upgrade of `/ws`: the response's status line and the stream. The
    /// response head is read byte by byte, so that no frame byte is taken with it.
    pub(crate) fn ws_upgrade(&self) -> (String, std::net::TcpStream) {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let req = format!(
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            self.port
        );
        tcp.write_all(req.as_bytes()).unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            assert_eq!(
                tcp.read(&mut b).unwrap(),
                1,
                "the server closed during the handshake"
            );
            head.push(b[0]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        (head.lines().next().unwrap_or("").to_owned(), tcp)
    }

    pub(crate) fn ws(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    /// `relay account add` against this server's data directory.
    pub(crate) fn add_account(&self, email: &str, password: &str) {
        let out = Command::new(BIN)
            .args(["account", "add", email, "--password", password, "--data"])
            .arg(self.data())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub(crate) fn session_file(&self, who: &str) -> PathBuf {
        self.dir.path().join(format!("{who}.session.json"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Two signed-in accounts, the owner's service bound to the owner's channel.
pub(crate) struct Setup {
    pub owner: ChannelHttp,
    pub user: ChannelHttp,
    pub user_id: String,
    pub sid: String,
    pub ch: String,
}

pub(crate) async fn setup(s: &Server) -> Setup {
    s.add_account("owner@example.com", "pw-owner");
    s.add_account("user@example.com", "pw-user");
    let mut owner = ChannelHttp::new(&s.http()).unwrap();
    owner
        .sign_in("owner@example.com", "pw-owner")
        .await
        .unwrap();
    let mut user = ChannelHttp::new(&s.http()).unwrap();
    user.sign_in("user@example.com", "pw-user").await.unwrap();
    let user_id = user.user_id().await.unwrap();
    let sid = owner.create_service("svc").await.unwrap();
    let ch = owner.create_channel("room", "").await.unwrap();
    owner.bind(&ch, &sid).await.unwrap();
    Setup {
        owner,
        user,
        user_id,
        sid,
        ch,
    }
}

/// The frames a Rust channel client received, in order.
pub(crate) type Seen = std::sync::Arc<std::sync::Mutex<Vec<relay_client::channel::ServerFrame>>>;

/// A handler that records every frame into the returned list.
pub(crate) fn recorder() -> (Seen, relay_client::channel::Handler) {
    let seen: Seen = Default::default();
    let s = seen.clone();
    (
        seen,
        Box::new(move |f| {
            s.lock().unwrap().push(f);
            Ok(())
        }),
    )
}

/// Polls `f` every 50 ms until it gives a value; panics naming `what` after 30 s.
pub(crate) async fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..600 {
        if let Some(v) = f() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A raw WebSocket client on blocking threads: frames are sent as written, and every text frame
/// the server sends is parsed as JSON and kept, in order, by a reader thread.
pub(crate) struct RawWs {
    tcp: std::net::TcpStream,
    frames: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    /// The close frame's code and reason, once the server sent one.
    closed: std::sync::Arc<std::sync::Mutex<Option<(u16, String)>>>,
}

impl RawWs {
    pub(crate) fn open(s: &Server) -> RawWs {
        use relay_wire::websocket::{self, Masking, Parsed};
        use std::io::Read;
        let tcp = s.raw_ws();
        let mut rd = tcp.try_clone().unwrap();
        let frames: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>> = Default::default();
        let closed: std::sync::Arc<std::sync::Mutex<Option<(u16, String)>>> = Default::default();
        let (f, c) = (frames.clone(), closed.clone());
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 1 << 16];
            loop {
                while let Parsed::Frame {
                    opcode,
                    payload,
                    len,
                    ..
                } = websocket::parse(&mut buf, usize::MAX, Masking::Forbidden)
                {
                    let p = buf[payload].to_vec();
                    buf.drain(..len);
                    match opcode {
                        websocket::OP_TEXT => f.lock().unwrap().push(
                            serde_json::from_slice(&p).expect("a text frame that is not JSON"),
                        ),
                        websocket::OP_CLOSE if p.len() >= 2 => {
                            *c.lock().unwrap() = Some((
                                u16::from_be_bytes([p[0], p[1]]),
                                String::from_utf8_lossy(&p[2..]).into_owned(),
                            ));
                        }
                        _ => {}
                    }
                }
                match rd.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        });
        RawWs {
            tcp,
            frames,
            closed,
        }
    }

    /// Sends one text frame; false once the connection is gone.
    pub(crate) fn send(&self, v: &serde_json::Value) -> bool {
        self.send_raw(&RawWs::encode(v))
    }

    /// `v` as a client's text frame, for [`RawWs::send_raw`].
    pub(crate) fn encode(v: &serde_json::Value) -> Vec<u8> {
        let mut out = Vec::new();
        relay_wire::websocket::masked_frame(
            relay_wire::websocket::OP_TEXT,
            v.to_string().as_bytes(),
            [7, 1, 2, 9],
            &mut out,
        );
        out
    }

    /// Writes bytes as they are (frames already encoded); false once the connection is gone.
    pub(crate) fn send_raw(&self, bytes: &[u8]) -> bool {
        use std::io::Write;
        (&self.tcp).write_all(bytes).is_ok()
    }

    /// Drops the TCP connection without a close frame (dropping a `RawWs` leaves it open: its
    /// reader thread holds a clone of the stream).
    pub(crate) fn disconnect(&self) {
        let _ = self.tcp.shutdown(std::net::Shutdown::Both);
    }

    pub(crate) fn frames(&self) -> Vec<serde_json::Value> {
        self.frames.lock().unwrap().clone()
    }

    pub(crate) fn closed(&self) -> Option<(u16, String)> {
        self.closed.lock().unwrap().clone()
    }

    /// Waits up to 10 s for a frame matching `pred`.
    pub(crate) fn wait(
        &self,
        what: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(f) = self.frames.lock().unwrap().iter().find(|f| pred(f)) {
                return f.clone();
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `v` with `request_id` set to `rid` and returns the body of its copy.
    pub(crate) fn request(&self, mut v: serde_json::Value, rid: &str) -> serde_json::Value {
        v["request_id"] = rid.into();
        assert!(self.send(&v), "the connection is gone");
        self.wait(&format!("the copy of {rid}"), |f| {
            f["type"] == "copy" && f["body"]["request_id"] == rid
        })["body"]
            .clone()
    }

    /// Logs in as a user and asserts that the login was accepted.
    pub(crate) fn login_user(&self, token: &str) {
        let copy = self.request(serde_json::json!({"type": "user_login", "auth_origin": "cognito", "access_token": token}), "login");
        assert_eq!(copy["status"], true, "{copy}");
    }
}
