//! The one raw WebSocket client of the tests, on blocking threads: frames go out exactly as
//! written (or as raw bytes), and a reader thread keeps every frame the server sends, in order,
//! with its pongs and its close. A test that checks the shape of every server frame (the
//! conformance checklist) gives its own [`FrameCheck`].
//!
//! Hand-written over `std::net::TcpStream` with relay-wire's codec because the tests need what
//! a WebSocket library hides: broken and oversized frames, pings with chosen payloads, a socket
//! that stops reading, a connection dropped without a close frame.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use relay_wire::websocket::{self, Masking, Parsed, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT};
use serde_json::{json, Value};

use super::server::Server;

/// How long [`Ws::wait`] and [`Ws::ping`] wait before the test fails.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// The largest frame the reader accepts from the server.
const MAX_FRAME: usize = 64 << 20;

/// Looks at one data frame from the server (opcode, fin, payload): the frame as JSON, if it is,
/// and whatever is wrong with it.
pub(crate) type FrameCheck = fn(u8, bool, &[u8]) -> (Option<Value>, Vec<String>);

/// What a socket received.
#[derive(Default)]
pub(crate) struct Seen {
    /// Every text frame, parsed.
    pub frames: Vec<Value>,
    /// What the [`FrameCheck`] found wrong, and frames the server should not send.
    pub problems: Vec<String>,
    pub pongs: Vec<(Instant, Vec<u8>)>,
    /// The close code and reason (1006 for a connection dropped without a close frame).
    pub closed: Option<(u16, String, Instant)>,
}

struct Shared {
    seen: Mutex<Seen>,
    changed: Condvar,
}

pub(crate) struct Ws {
    name: String,
    tcp: TcpStream,
    shared: Arc<Shared>,
    /// Whether this socket logged in as a user.
    user: AtomicBool,
}

/// The check of sockets that only need JSON text frames.
pub(crate) fn json_frames(_opcode: u8, _fin: bool, payload: &[u8]) -> (Option<Value>, Vec<String>) {
    match serde_json::from_slice(payload) {
        Ok(v) => (Some(v), Vec::new()),
        Err(e) => (None, vec![format!("a text frame that is not JSON: {e}")]),
    }
}

/// A fresh `request_id`, unique in this test binary.
pub(crate) fn rid() -> String {
    static N: AtomicU64 = AtomicU64::new(1);
    format!("r{}", N.fetch_add(1, Ordering::Relaxed))
}

impl Server {
    /// A blocking TCP stream to `/ws` after the WebSocket handshake, for tests that send raw
    /// frames or stop reading.
    pub(crate) fn raw_ws(&self) -> TcpStream {
        let (status, tcp) = self.ws_upgrade();
        assert!(status.starts_with("HTTP/1.1 101"), "{status}");
        tcp
    }

    /// Asks for a WebSocket upgrade of `/ws`: the response's status line and the stream. The
    /// response head is read byte by byte, so that no frame byte is taken with it, and a 101's
    /// `Sec-WebSocket-Accept` is checked.
    pub(crate) fn ws_upgrade(&self) -> (String, TcpStream) {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let mut tcp = TcpStream::connect(self.addr).unwrap();
        let req = format!(
            "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
            self.addr
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
        let status = head.lines().next().unwrap_or("").to_owned();
        if status.starts_with("HTTP/1.1 101") {
            let accept = websocket::accept_key(key.as_bytes()).to_ascii_lowercase();
            assert!(head.to_ascii_lowercase().contains(&accept), "{head}");
        }
        (status, tcp)
    }
}

impl Ws {
    /// A socket whose text frames must be JSON.
    pub(crate) fn open(s: &Server) -> Ws {
        Ws::open_checked(s, "ws", json_frames)
    }

    /// A socket named `name` in failure messages, every data frame looked at by `check`.
    pub(crate) fn open_checked(s: &Server, name: &str, check: FrameCheck) -> Ws {
        let tcp = s.raw_ws();
        let rd = tcp.try_clone().unwrap();
        let shared = Arc::new(Shared {
            seen: Mutex::new(Seen::default()),
            changed: Condvar::new(),
        });
        let sh = shared.clone();
        std::thread::spawn(move || read_frames(rd, &sh, check));
        Ws {
            name: name.to_owned(),
            tcp,
            shared,
            user: AtomicBool::new(false),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Whether [`Ws::login_user`] was called on this socket.
    pub(crate) fn is_user(&self) -> bool {
        self.user.load(Ordering::Relaxed)
    }

    /// `v` as a client's (masked) text frame, for [`Ws::send_raw`].
    pub(crate) fn encode(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        websocket::masked_frame(OP_TEXT, v.to_string().as_bytes(), [7, 1, 2, 9], &mut out);
        out
    }

    /// Writes bytes as they are (frames already encoded); false once the connection is gone.
    pub(crate) fn send_raw(&self, bytes: &[u8]) -> bool {
        (&self.tcp).write_all(bytes).is_ok()
    }

    /// Sends one masked frame; false once the connection is gone.
    pub(crate) fn send_frame(&self, opcode: u8, payload: &[u8]) -> bool {
        let mut out = Vec::with_capacity(payload.len() + 14);
        websocket::masked_frame(opcode, payload, [0x12, 0x34, 0x56, 0x78], &mut out);
        self.send_raw(&out)
    }

    /// Sends one text frame; false once the connection is gone.
    pub(crate) fn send_text(&self, text: &str) -> bool {
        self.send_frame(OP_TEXT, text.as_bytes())
    }

    /// Sends `v` as a text frame; false once the connection is gone.
    pub(crate) fn send(&self, v: &Value) -> bool {
        self.send_text(&v.to_string())
    }

    /// Sends `v` with a fresh `request_id` and returns the body of the copy answering it.
    pub(crate) fn request(&self, v: Value) -> Value {
        self.request_as(v, &rid())
    }

    /// Sends `v` with `request_id` set to `rid` and returns the body of its copy.
    pub(crate) fn request_as(&self, mut v: Value, rid: &str) -> Value {
        v["request_id"] = rid.into();
        assert!(self.send(&v), "{}: the connection is gone", self.name);
        self.wait(&format!("the copy of {rid}"), |f| {
            f["type"] == "copy" && f["body"]["request_id"] == rid
        })["body"]
            .clone()
    }

    /// Sends a user login and returns its copy's body (accepted or not).
    pub(crate) fn login_user(&self, token: &str) -> Value {
        self.user.store(true, Ordering::Relaxed);
        self.request(json!({"type": "user_login", "auth_origin": "cognito", "access_token": token}))
    }

    /// Sends a service login and returns its copy's body (accepted or not).
    pub(crate) fn login_service(&self, token: &str, service_id: &str) -> Value {
        self.request(json!({"type": "service_login", "auth_origin": "cognito", "access_token": token, "service_id": service_id}))
    }

    /// Drops the TCP connection without a close frame.
    pub(crate) fn disconnect(&self) {
        let _ = self.tcp.shutdown(std::net::Shutdown::Both);
    }

    /// Reads what the socket received so far.
    pub(crate) fn seen<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&self.shared.seen.lock().unwrap())
    }

    pub(crate) fn frames(&self) -> Vec<Value> {
        self.seen(|s| s.frames.clone())
    }

    pub(crate) fn count(&self) -> usize {
        self.seen(|s| s.frames.len())
    }

    /// The frames from the `n`th on.
    pub(crate) fn since(&self, n: usize) -> Vec<Value> {
        self.seen(|s| s.frames[n..].to_vec())
    }

    pub(crate) fn all(&self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.seen(|s| s.frames.iter().filter(|f| pred(f)).cloned().collect())
    }

    pub(crate) fn closed(&self) -> Option<(u16, String, Instant)> {
        self.seen(|s| s.closed.clone())
    }

    /// The first frame (of all received so far, or arriving within [`WAIT`]) matching `pred`.
    pub(crate) fn wait(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_from(0, what, pred)
    }

    /// Like [`Ws::wait`], among the frames from the `from`th on; a close while waiting fails.
    pub(crate) fn wait_from(
        &self,
        from: usize,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_until(WAIT, what, |seen| {
            if let Some(f) = seen.frames.iter().skip(from).find(|f| pred(f)) {
                return Some(f.clone());
            }
            if let Some((code, reason, _)) = &seen.closed {
                panic!(
                    "{}: closed ({code} {reason}) while waiting for {what}; last frames: {:?}",
                    self.name,
                    last(&seen.frames)
                );
            }
            None
        })
    }

    /// The frames that arrive within `d`.
    pub(crate) fn quiet(&self, d: Duration) -> Vec<Value> {
        let n = self.count();
        std::thread::sleep(d);
        self.since(n)
    }

    /// Waits for the close (or the dropped connection); fails after `within`.
    pub(crate) fn wait_closed(&self, within: Duration) -> (u16, String, Instant) {
        self.wait_until(within, "the close", |seen| seen.closed.clone())
    }

    /// Sends a ping with `payload`; the time until its pong, which must echo the payload.
    pub(crate) fn ping(&self, payload: &[u8]) -> Duration {
        let n = self.seen(|s| s.pongs.len());
        let t0 = Instant::now();
        assert!(self.send_frame(OP_PING, payload), "{}: gone", self.name);
        let (at, p) = self.wait_until(WAIT, "the pong", |seen| seen.pongs.get(n).cloned());
        assert_eq!(
            p, payload,
            "{}: the pong carries the ping's payload",
            self.name
        );
        at - t0
    }

    /// Runs `found` on what was received, again at every change, until it gives a value; fails
    /// naming `what` after `within`.
    fn wait_until<T>(
        &self,
        within: Duration,
        what: &str,
        mut found: impl FnMut(&Seen) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + within;
        let mut seen = self.shared.seen.lock().unwrap();
        loop {
            if let Some(v) = found(&seen) {
                return v;
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "{}: timed out after {within:?} waiting for {what}; last frames: {:?}",
                self.name,
                last(&seen.frames)
            );
            seen = self
                .shared
                .changed
                .wait_timeout(seen, deadline - now)
                .unwrap()
                .0;
        }
    }

    /// Asserts that the [`FrameCheck`] found nothing wrong in any frame so far.
    pub(crate) fn assert_clean(&self) {
        self.seen(|s| assert!(s.problems.is_empty(), "{}: {:#?}", self.name, s.problems));
    }
}

impl Drop for Ws {
    fn drop(&mut self) {
        // The reader thread holds a clone of the stream: without this the socket stays open.
        self.disconnect();
    }
}

/// The last few frames, shortened, for failure messages.
pub(crate) fn last(frames: &[Value]) -> Vec<String> {
    frames.iter().rev().take(4).map(short).collect()
}

/// `v` as text, cut at 300 bytes.
pub(crate) fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 300 {
        format!("{}… ({} bytes)", &s[..300], s.len())
    } else {
        s
    }
}

fn read_frames(mut rd: TcpStream, shared: &Shared, check: FrameCheck) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        loop {
            let parsed = websocket::parse(&mut buf, MAX_FRAME, Masking::Forbidden);
            let mut s = shared.seen.lock().unwrap();
            match parsed {
                Parsed::Frame {
                    fin,
                    opcode,
                    payload,
                    len,
                } => {
                    let data = buf[payload].to_vec();
                    buf.drain(..len);
                    match opcode {
                        OP_PONG => s.pongs.push((Instant::now(), data)),
                        OP_PING => s
                            .problems
                            .push("the server sent a ping (not expected)".into()),
                        OP_CLOSE => {
                            let code = if data.len() >= 2 {
                                u16::from_be_bytes([data[0], data[1]])
                            } else {
                                1005
                            };
                            let reason =
                                String::from_utf8_lossy(data.get(2..).unwrap_or(&[])).to_string();
                            s.closed = Some((code, reason, Instant::now()));
                            shared.changed.notify_all();
                            return;
                        }
                        _ => {
                            let (v, p) = check(opcode, fin, &data);
                            s.problems.extend(p);
                            s.frames.extend(v);
                        }
                    }
                    shared.changed.notify_all();
                }
                Parsed::Incomplete { .. } => break,
                Parsed::Error(code, reason) => {
                    s.problems
                        .push(format!("unparsable frame from the server: {code} {reason}"));
                    s.closed = Some((1002, reason.into(), Instant::now()));
                    shared.changed.notify_all();
                    return;
                }
            }
        }
        match rd.read(&mut chunk) {
            Ok(0) | Err(_) => {
                let mut s = shared.seen.lock().unwrap();
                if s.closed.is_none() {
                    s.closed = Some((
                        1006,
                        "connection dropped without a close frame".into(),
                        Instant::now(),
                    ));
                }
                shared.changed.notify_all();
                return;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
