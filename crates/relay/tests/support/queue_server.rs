//! Starts and stops a real `relay serve` for the queue-face tests, and speaks raw HTTP/1.1 to it.
//!
//! The client is hand-written over `std::net::TcpStream` on purpose: the tests must see header
//! names exactly as they are on the wire (the Python clients match them case-sensitively), send
//! deliberately broken requests, and keep working while the server is killed under them.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The token most tests configure with `--queue-token`.
pub(crate) const TOKEN: &str = "relay-queue-test-token";

/// Generous limits that only exist so a broken server cannot hang the suite.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Variables that would change the server's behaviour if they leaked in from the environment
/// the tests happen to run in.
const SCRUBBED_ENV: &[&str] = &[
    "RELAY_QUEUE_TOKEN",
    "RELAY_LISTEN",
    "RELAY_DATA",
    "RELAY_STORE",
    "SCIROCCO_MASTER_TOKEN",
    "SCIROCCO_PORT",
    "RELAY_TEST_HOOKS",
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

pub(crate) struct QueueServer {
    child: Option<Child>,
    pub addr: SocketAddr,
    /// The token requests are sent with: the configured one, or the one read from the token file.
    pub token: String,
    data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    opts: Options,
    log: Arc<Mutex<String>>,
}

impl QueueServer {
    /// A server with default options on a fresh data directory.
    pub(crate) fn start() -> QueueServer {
        QueueServer::with(Options::default())
    }

    pub(crate) fn with(opts: Options) -> QueueServer {
        QueueServer::try_with(opts).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like `with`, but a server that exits before listening is an `Err` with its exit status
    /// and stderr, for tests that expect a refusal to start.
    pub(crate) fn try_with(opts: Options) -> Result<QueueServer, String> {
        let (data_dir, tmp) = match &opts.data_dir {
            Some(d) => (d.clone(), None),
            None => {
                let tmp = tempfile::tempdir().expect("temp data dir");
                (tmp.path().join("data"), Some(tmp))
            }
        };
        let mut s = QueueServer {
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

    /// Everything the server wrote on stderr so far, for assertion messages.
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn spawn(&mut self) {
        self.try_spawn().unwrap_or_else(|e| panic!("{e}"));
    }

    fn try_spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_relay"));
        cmd.arg("serve").arg("--data").arg(&self.data_dir);
        if self.opts.listen {
            cmd.arg("--listen").arg("127.0.0.1:0");
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

    /// Starts the server again on the same data directory (on a new ephemeral port).
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

    /// A request to this server, carrying the token.
    pub(crate) fn req(&self, method: &str, path: &str) -> Request {
        Request::new(self.addr, method, path).header("Authorization", &self.token)
    }

    /// A request without any Authorization header.
    pub(crate) fn anon(&self, method: &str, path: &str) -> Request {
        Request::new(self.addr, method, path)
    }

    /// v1 push of a JSON body; asserts the 201.
    #[track_caller]
    pub(crate) fn push(&self, from: &str, to: &str, body: &Value) -> Response {
        self.req("POST", "/messageQueue")
            .from(from)
            .to(to)
            .json(body)
            .send()
            .expect(201)
    }

    /// v2 push of a JSON body; asserts the 201.
    #[track_caller]
    pub(crate) fn push_v2(&self, from: &str, to: &str, body: &Value) -> Response {
        self.req("POST", "/messageQueue")
            .source(from)
            .dest(to)
            .json(body)
            .send()
            .expect(201)
    }

    /// v1 pull (`GET /messageQueue`), status unchecked.
    pub(crate) fn pull(&self, node: &str) -> Response {
        self.req("GET", "/messageQueue").from(node).send()
    }

    /// v1 ack, status unchecked.
    pub(crate) fn ack(&self, node: &str, id: &str) -> Response {
        self.req("PATCH", &format!("/messageQueue/{id}/ack"))
            .from(node)
            .send()
    }

    /// v1 `GET /messages/{id}`, status unchecked.
    pub(crate) fn get(&self, node: &str, id: &str) -> Response {
        self.req("GET", &format!("/messages/{id}"))
            .from(node)
            .send()
    }

    /// The status of a message as its sender sees it (v1 get-one, which must succeed).
    #[track_caller]
    pub(crate) fn status_of(&self, node: &str, id: &str) -> String {
        self.get(node, id).expect(200).sc("Status").to_string()
    }

    /// Whether the server still answers a trivial authenticated request.
    pub(crate) fn alive(&self) -> bool {
        matches!(self.req("GET", "/").try_send(), Ok(r) if r.status == 200)
    }
}

impl Drop for QueueServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn parse_listening(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on ")? + "listening on ".len()..];
    let token: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ',' && *c != ')')
        .collect();
    token
        .trim_start_matches("http://")
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

/// Distinct hex node ids, so tests in one binary never share an inbox by accident.
pub(crate) fn node() -> String {
    static N: AtomicU32 = AtomicU32::new(1);
    format!(
        "a{:04x}{:04x}",
        std::process::id() & 0xffff,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

#[derive(Clone)]
pub(crate) struct Request {
    addr: SocketAddr,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// Headers whose values are not text (bytes outside ASCII), written after `headers`.
    pub raw_headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Request {
    pub(crate) fn new(addr: SocketAddr, method: &str, path: &str) -> Request {
        Request {
            addr,
            method: method.to_string(),
            path: path.to_string(),
            headers: Vec::new(),
            raw_headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub(crate) fn header(mut self, k: &str, v: &str) -> Request {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }

    /// A header with arbitrary value bytes (for example latin-1), as some clients send.
    pub(crate) fn header_bytes(mut self, k: &str, v: &[u8]) -> Request {
        self.raw_headers.push((k.to_string(), v.to_vec()));
        self
    }

    /// v1 identity (`Scirocco-From`).
    pub(crate) fn from(self, node: &str) -> Request {
        self.header("Scirocco-From", node)
    }
    /// v1 destination (`Scirocco-To`).
    pub(crate) fn to(self, node: &str) -> Request {
        self.header("Scirocco-To", node)
    }
    /// v2 identity (`Scirocco-Node-Source`).
    pub(crate) fn source(self, node: &str) -> Request {
        self.header("Scirocco-Node-Source", node)
    }
    /// v2 destination (`Scirocco-Node-Destination`).
    pub(crate) fn dest(self, node: &str) -> Request {
        self.header("Scirocco-Node-Destination", node)
    }

    pub(crate) fn body(mut self, b: impl Into<Vec<u8>>) -> Request {
        self.body = b.into();
        self
    }
    pub(crate) fn json(self, v: &Value) -> Request {
        self.header("Content-Type", "application/json")
            .body(serde_json::to_vec(v).unwrap())
    }
    pub(crate) fn text(self, s: &str) -> Request {
        self.header("Content-Type", "text/plain")
            .body(s.as_bytes().to_vec())
    }
    pub(crate) fn bytes(self, b: &[u8]) -> Request {
        self.header("Content-Type", "application/octet-stream")
            .body(b.to_vec())
    }

    /// Sends the body with `Transfer-Encoding: chunked` (no Content-Length), in `chunk`-byte pieces.
    pub(crate) fn chunked(mut self, chunk: usize) -> Request {
        let mut out = Vec::new();
        for piece in self.body.chunks(chunk.max(1)) {
            out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        self.body = out;
        self.header("Transfer-Encoding", "chunked")
    }

    /// The request exactly as it goes on the wire.
    pub(crate) fn wire(&self) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\n",
            self.method, self.path, self.addr
        )
        .into_bytes();
        for (k, v) in &self.headers {
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        for (k, v) in &self.raw_headers {
            out.extend_from_slice(format!("{k}: ").as_bytes());
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        let has_len = self.headers.iter().any(|(k, _)| {
            k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
        });
        if !has_len
            && (!self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PATCH" | "PUT"))
        {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    pub(crate) fn try_send(&self) -> io::Result<Response> {
        Conn::open(self.addr)?.send(self)
    }

    /// Sends on a fresh connection; panics with the request line if the exchange fails.
    pub(crate) fn send(&self) -> Response {
        self.try_send()
            .unwrap_or_else(|e| panic!("{} {}: {e}", self.method, self.path))
    }
}

/// One keep-alive connection.
pub(crate) struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub(crate) fn open(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            reader: BufReader::new(stream),
        })
    }

    pub(crate) fn stream(&mut self) -> &mut TcpStream {
        self.reader.get_mut()
    }

    pub(crate) fn send(&mut self, req: &Request) -> io::Result<Response> {
        // A server may answer (413, 403) and close before taking the whole body; the answer
        // is what the test wants, so a failed write only matters if no response follows.
        let written = self.reader.get_mut().write_all(&req.wire());
        match read_response(&mut self.reader, req.method == "HEAD") {
            Ok(r) => Ok(r),
            Err(e) => Err(written.err().unwrap_or(e)),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    /// Header names exactly as received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// Case-insensitive lookup, for value checks.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Case-sensitive lookup: what the Python clients do.
    pub(crate) fn exact(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `Scirocco-<name>`, which must be present and spelled exactly.
    pub(crate) fn sc(&self, name: &str) -> &str {
        let full = format!("Scirocco-{name}");
        self.exact(&full)
            .unwrap_or_else(|| panic!("no `{full}` header in {self:#?}"))
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    pub(crate) fn id(&self) -> String {
        self.sc("Id").to_string()
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {self:#?}"))
    }

    pub(crate) fn content_type(&self) -> Option<&str> {
        self.header("Content-Type")
    }

    /// Asserts the status, printing the whole response on failure.
    #[track_caller]
    pub(crate) fn expect(self, status: u16) -> Response {
        assert_eq!(
            self.status,
            status,
            "unexpected status; response: {}",
            self.describe()
        );
        self
    }

    pub(crate) fn describe(&self) -> String {
        let mut s = format!("{}\n", self.status);
        for (k, v) in &self.headers {
            s.push_str(&format!("{k}: {v}\n"));
        }
        s.push('\n');
        s.push_str(&self.text());
        s
    }
}

fn read_line(r: &mut BufReader<TcpStream>) -> io::Result<String> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn read_response(r: &mut BufReader<TcpStream>, head: bool) -> io::Result<Response> {
    let status_line = read_line(r)?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {status_line:?}"),
            )
        })?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').unwrap_or((&line, ""));
        headers.push((k.to_string(), v.trim().to_string()));
    }
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if head || status == 204 || status == 304 || (100..200).contains(&status) {
    } else if get("Transfer-Encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        loop {
            let size_line = read_line(r)?;
            let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                while !read_line(r)?.is_empty() {}
                break;
            }
            let mut chunk = vec![0; size];
            r.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            read_line(r)?;
        }
    } else if let Some(len) = get("Content-Length") {
        let len: usize = len
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad length"))?;
        body.resize(len, 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Standard base64 with padding, as the server renders stored bytes.
pub(crate) fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// True for 24 lowercase hex characters.
pub(crate) fn is_object_id(s: &str) -> bool {
    s.len() == 24
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub(crate) const JSON_CT: &str = "application/json; charset=utf-8";
/// The 404 body of ack, get-one and update.
pub(crate) const RESOURCE_NOT_FOUND: &str = "Resource not found.";

/// Asserts status, JSON content type and the exact `message` of an error body.
#[track_caller]
pub(crate) fn assert_error(r: &Response, status: u16, message: &str) {
    assert_eq!(r.status, status, "{}", r.describe());
    assert_eq!(r.content_type(), Some(JSON_CT), "{}", r.describe());
    assert_eq!(r.json()["message"], message, "{}", r.describe());
}

/// Asserts a 400 validation error naming `field` under `errors`.
#[track_caller]
pub(crate) fn assert_validation(r: &Response, field: &str) {
    assert_eq!(r.status, 400, "{}", r.describe());
    let body = r.json();
    assert!(
        body["errors"].get(field).is_some(),
        "no errors.{field} in {}",
        r.describe()
    );
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        r.describe()
    );
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// (year, month 1-12, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The header time form Relay emits: `Www Mmm DD YYYY HH:MM:SS GMT+0000 (UTC)`.
pub(crate) fn header_time(epoch_secs: i64) -> String {
    let days = epoch_secs.div_euclid(86400);
    let secs = epoch_secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{} {} {:02} {} {:02}:{:02}:{:02} GMT+0000 (UTC)",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[m as usize - 1],
        d,
        y,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Epoch seconds of a header time, if it has exactly Relay's form.
pub(crate) fn parse_header_time(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split(' ').collect();
    if parts.len() != 7 || parts[5] != "GMT+0000" || parts[6] != "(UTC)" {
        return None;
    }
    let m = MONTHS.iter().position(|x| *x == parts[1])? as u32 + 1;
    if parts[2].len() != 2 || parts[3].len() != 4 {
        return None;
    }
    let d: u32 = parts[2].parse().ok()?;
    let y: i64 = parts[3].parse().ok()?;
    let hms: Vec<i64> = parts[4]
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if hms.len() != 3 || parts[4].len() != 8 {
        return None;
    }
    let t = days_from_civil(y, m, d) * 86400 + hms[0] * 3600 + hms[1] * 60 + hms[2];
    (header_time(t) == s).then_some(t)
}

/// True for ISO-8601 UTC with milliseconds, as in `2016-11-15T10:41:05.123Z`.
pub(crate) fn is_iso_ms(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.clone().all(|i| b[i].is_ascii_digit());
    b.len() == 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23)
        && b[23] == b'Z'
}
