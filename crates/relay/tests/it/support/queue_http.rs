//! Raw HTTP/1.1 to a server, and the queue face's request shortcuts and checks.
//!
//! The client is hand-written over `std::net::TcpStream` on purpose: the tests must see header
//! names exactly as they are on the wire (the Python clients match them case-sensitively), send
//! deliberately broken requests, and keep working while the server is killed under them.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

use super::server::{Server, IO_TIMEOUT};

/// The queue face's requests, as its clients send them.
impl Server {
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
    let (y, m, d) = relay_wire::calendar::civil_from_days(days);
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
