//! Fan-out load generator for realtime channels: one publisher, N subscribers, against Relay's
//! channel face or NATS over WebSocket. Reports deliveries per second, delivery latency
//! percentiles and server RSS per idle connection, one JSON object per line.
//!
//! The publisher keeps at most `--window` messages unconfirmed (Relay: the `copy` of each
//! `message_down`; NATS: a PONG after each PUB). Each payload carries its send time, so latency
//! is measured end to end in this one process.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use relay_wire::websocket::{
    self, Masking, Parsed, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,
};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
enum Target {
    Relay,
    Nats,
}

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum)]
    target: Target,
    /// WebSocket URL (Relay: ws://host:port/ws; NATS: its websocket listener).
    #[arg(long)]
    ws: String,
    /// Relay's HTTP base URL (accounts, channel, groups). Relay must run with --open-signup.
    #[arg(long)]
    http: Option<String>,
    /// Subscriber counts to run, comma-separated.
    #[arg(long, default_value = "10,100,1000")]
    fanouts: String,
    /// Seconds per measured run.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Unconfirmed messages the publisher may have in flight.
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// Also run the largest fan-out paced at half of its measured peak message rate.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    half_peak: bool,
    /// Instead of the peak runs, run every fan-out paced at this many messages per second.
    #[arg(long)]
    rate: Option<f64>,
    /// Idle connections to open for the memory measurement (0 = skip).
    #[arg(long, default_value_t = 1000)]
    idle: usize,
    /// Server process id, for RSS.
    #[arg(long)]
    server_pid: Option<u32>,
}

struct Shared {
    base: Instant,
    deliveries: AtomicU64,
    hist: Mutex<Histogram<u64>>,
    measuring: AtomicBool,
}

impl Shared {
    fn now_us(&self) -> u64 {
        self.base.elapsed().as_micros() as u64
    }

    /// Records the send times of the deliveries one subscriber read in one go, received at
    /// `now_us` (one lock per read, not per delivery, so subscribers do not contend).
    fn record(&self, now_us: u64, sent: &mut Vec<u64>) {
        if sent.is_empty() {
            return;
        }
        if self.measuring.load(Ordering::Relaxed) {
            self.deliveries
                .fetch_add(sent.len() as u64, Ordering::Relaxed);
            if let Ok(mut h) = self.hist.lock() {
                for &us in sent.iter() {
                    let _ = h.record(now_us.saturating_sub(us).max(1));
                }
            }
        }
        sent.clear();
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A minimal RFC 6455 client over a plain TCP stream. Both servers are driven through this same
/// code, so the client's cost per delivered frame is the same for both: it reads whatever the
/// socket has, splits it into frames, and hands each complete payload to the caller without
/// copying it.
struct Ws {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Start of the unread bytes in `buf`.
    pos: usize,
    /// Reassembly of a fragmented message (rare: neither server fragments small messages).
    partial: Vec<u8>,
    partial_op: u8,
    seed: u32,
}

/// One received data message (text or binary) or control frame.
enum Event<'a> {
    Data(u8, &'a [u8]),
    Closed,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Ws {
    async fn connect(url: &str) -> anyhow::Result<Ws> {
        tokio::time::timeout(Duration::from_secs(10), Ws::handshake(url))
            .await
            .context("connect timed out")?
    }

    async fn handshake(url: &str) -> anyhow::Result<Ws> {
        let rest = url
            .strip_prefix("ws://")
            .context("only ws:// URLs are supported")?;
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let stream = TcpStream::connect(host).await?;
        stream.set_nodelay(true)?;
        static SEED: AtomicU64 = AtomicU64::new(0x9e37_79b9);
        let seed = (SEED.fetch_add(0x6d2b_79f5, Ordering::Relaxed) as u32) | 1;
        let mut ws = Ws {
            stream,
            buf: Vec::with_capacity(4096),
            pos: 0,
            partial: Vec::new(),
            partial_op: 0,
            seed,
        };
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        ws.stream.write_all(req.as_bytes()).await?;
        loop {
            if let Some(end) = find(&ws.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&ws.buf[..end]).into_owned();
                if !head.starts_with("HTTP/1.1 101") {
                    bail!("WebSocket handshake refused: {head}");
                }
                ws.pos = end + 4;
                return Ok(ws);
            }
            if ws.read_more().await? == 0 {
                bail!("closed during the WebSocket handshake");
            }
        }
    }

    /// Reads more bytes from the socket (0 = closed).
    async fn read_more(&mut self) -> std::io::Result<usize> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if self.buf.capacity() - self.buf.len() < 16 * 1024 {
            self.buf.reserve(64 * 1024);
        }
        self.stream.read_buf(&mut self.buf).await
    }

    /// The next complete frame already buffered: (fin, opcode, payload range in `buf`).
    fn next_frame(&mut self) -> anyhow::Result<Option<(bool, u8, std::ops::Range<usize>)>> {
        match websocket::parse(&mut self.buf[self.pos..], usize::MAX, Masking::Forbidden) {
            Parsed::Frame {
                fin,
                opcode,
                payload,
                len,
            } => {
                let range = self.pos + payload.start..self.pos + payload.end;
                self.pos += len;
                Ok(Some((fin, opcode, range)))
            }
            Parsed::Incomplete { .. } => Ok(None),
            Parsed::Error(code, why) => {
                bail!("the server broke the WebSocket protocol ({code}): {why}")
            }
        }
    }

    /// Hands every complete data message already buffered to `on` (answering pings), without
    /// reading the socket. Returns false once the server closed the connection.
    async fn drain(&mut self, mut on: impl FnMut(Event<'_>)) -> anyhow::Result<bool> {
        while let Some((fin, op, range)) = self.next_frame()? {
            match op {
                OP_TEXT | OP_BINARY if fin && self.partial.is_empty() => {
                    on(Event::Data(op, &self.buf[range]))
                }
                OP_TEXT | OP_BINARY | OP_CONT => {
                    if op != OP_CONT {
                        self.partial_op = op;
                    }
                    self.partial.extend_from_slice(&self.buf[range]);
                    if fin {
                        let data = std::mem::take(&mut self.partial);
                        on(Event::Data(self.partial_op, &data));
                    }
                }
                OP_PING => {
                    let payload = self.buf[range].to_vec();
                    self.send(OP_PONG, &payload).await?;
                }
                OP_CLOSE => {
                    on(Event::Closed);
                    return Ok(false);
                }
                _ => {}
            }
        }
        Ok(true)
    }

    /// Appends one masked client frame to `out`.
    fn encode(&mut self, opcode: u8, payload: &[u8], out: &mut Vec<u8>) {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 17;
        self.seed ^= self.seed << 5;
        websocket::masked_frame(opcode, payload, self.seed.to_be_bytes(), out);
    }

    async fn send(&mut self, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(payload.len() + 14);
        self.encode(opcode, payload, &mut out);
        self.stream.write_all(&out).await
    }

    async fn send_text(&mut self, text: &str) -> std::io::Result<()> {
        self.send(OP_TEXT, text.as_bytes()).await
    }

    /// The next text message (setup only: copies it).
    async fn next_text(&mut self) -> anyhow::Result<String> {
        loop {
            let mut got = None;
            let open = self.drain_one(&mut got).await?;
            if let Some(t) = got {
                return Ok(t);
            }
            if !open {
                bail!("closed");
            }
            if self.read_more().await? == 0 {
                bail!("closed");
            }
        }
    }

    async fn drain_one(&mut self, got: &mut Option<String>) -> anyhow::Result<bool> {
        // Like `drain`, but stops after the first data message so that later ones stay buffered.
        while got.is_none() {
            let Some((fin, op, range)) = self.next_frame()? else {
                break;
            };
            match op {
                OP_TEXT | OP_BINARY | OP_CONT => {
                    self.partial.extend_from_slice(&self.buf[range]);
                    if fin {
                        let data = std::mem::take(&mut self.partial);
                        *got = Some(String::from_utf8_lossy(&data).into_owned());
                    }
                }
                OP_PING => {
                    let payload = self.buf[range].to_vec();
                    self.send(OP_PONG, &payload).await?;
                }
                OP_CLOSE => return Ok(false),
                _ => {}
            }
        }
        Ok(true)
    }
}

// ---------------- Relay ----------------

struct RelaySetup {
    http: String,
    owner_token: String,
    service_id: String,
    channel_id: String,
    users: Vec<(String, String)>, // (user_id, token)
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: Value,
) -> anyhow::Result<Value> {
    let mut r = http.post(url).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let v: Value = r.send().await?.json().await?;
    if v["code"] != 10000 {
        bail!("{url}: {v}");
    }
    Ok(v["data"].clone())
}

async fn get(http: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<Value> {
    let v: Value = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    if v["code"] != 10000 {
        bail!("{url}: {v}");
    }
    Ok(v["data"].clone())
}

async fn account(
    http: &reqwest::Client,
    base: &str,
    email: String,
) -> anyhow::Result<(String, String)> {
    let pw = "bench-password";
    let _ = post(
        http,
        &format!("{base}/auth/sign_up"),
        None,
        json!({"username": email, "password": pw}),
    )
    .await;
    let d = post(
        http,
        &format!("{base}/auth/sign_in"),
        None,
        json!({"username": email, "password": pw}),
    )
    .await?;
    let token = d["AuthenticationResult"]["AccessToken"]
        .as_str()
        .context("no token")?
        .to_owned();
    let uid = get(http, &format!("{base}/user/info"), &token).await?["user_id"]
        .as_str()
        .context("no user id")?
        .to_owned();
    Ok((uid, token))
}

async fn relay_setup(base: &str, users: usize) -> anyhow::Result<RelaySetup> {
    let http = reqwest::Client::new();
    let (_, owner_token) = account(&http, base, "bench-owner@example.com".into()).await?;
    let service_id = post(
        &http,
        &format!("{base}/service/create"),
        Some(&owner_token),
        json!({"description": "bench"}),
    )
    .await?["service_id"]
        .as_str()
        .context("sid")?
        .to_owned();
    let channel_id = post(
        &http,
        &format!("{base}/channel/create"),
        Some(&owner_token),
        json!({"channel_name": "bench", "context": {}}),
    )
    .await?["channel_id"]
        .as_str()
        .context("ch")?
        .to_owned();
    post(
        &http,
        &format!("{base}/service/bind"),
        Some(&owner_token),
        json!({"channel_id": channel_id, "service_id": service_id}),
    )
    .await?;
    let mut out = Vec::with_capacity(users);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..users {
        let http = http.clone();
        let base = base.to_owned();
        set.spawn(async move {
            (
                i,
                account(&http, &base, format!("bench-user-{i}@example.com")).await,
            )
        });
        while set.len() >= 8 {
            let (i, r) = set.join_next().await.unwrap()?;
            out.push((i, r?));
        }
    }
    while let Some(r) = set.join_next().await {
        let (i, r) = r?;
        out.push((i, r?));
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(RelaySetup {
        http: base.to_owned(),
        owner_token,
        service_id,
        channel_id,
        users: out.into_iter().map(|(_, u)| u).collect(),
    })
}

/// Sends a frame and waits for its copy, skipping anything else.
async fn relay_request(ws: &mut Ws, frame: Value) -> anyhow::Result<()> {
    let rid = frame["request_id"].as_str().unwrap_or("").to_owned();
    ws.send_text(&frame.to_string()).await?;
    loop {
        let t = tokio::time::timeout(Duration::from_secs(20), ws.next_text())
            .await
            .context("no copy")??;
        let v: Value = serde_json::from_str(&t)?;
        if v["type"] == "copy" && v["body"]["request_id"] == rid.as_str() {
            if v["body"]["status"] != true {
                bail!("refused: {v}");
            }
            return Ok(());
        }
    }
}

async fn relay_user_socket(url: &str, token: &str, join: Option<&str>) -> anyhow::Result<Ws> {
    let mut ws = Ws::connect(url).await?;
    relay_request(
        &mut ws,
        json!({"type": "user_login", "request_id": "login", "access_token": token}),
    )
    .await?;
    if let Some(ch) = join {
        relay_request(&mut ws, json!({"type": "action", "request_id": "join", "body": {"subtype": "join_channel", "channel_id": ch, "context": {}}})).await?;
    }
    Ok(ws)
}

/// The send time in a delivered frame: the text content is the microseconds since `base`.
/// The frame is checked to be UTF-8 (as any WebSocket client must) and scanned, not parsed:
/// the bench's own text content is digits only, so the first `"text":"` is exact. The searches
/// are built once: a naive scan of each ~300-byte frame took two thirds of this generator's
/// CPU, which it shares with the server under test.
fn relay_sent_us(frame: &[u8]) -> Option<u64> {
    use memchr::memmem::Finder;
    static KIND: std::sync::LazyLock<Finder<'static>> =
        std::sync::LazyLock::new(|| Finder::new(b"\"message_down\""));
    static TEXT: std::sync::LazyLock<Finder<'static>> =
        std::sync::LazyLock::new(|| Finder::new(b"\"text\":\""));
    std::str::from_utf8(frame).ok()?;
    KIND.find(frame)?;
    let digits = &frame[TEXT.find(frame)? + 8..];
    let end = memchr::memchr(b'"', digits)?;
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

// ---------------- NATS over WebSocket ----------------

/// Splits the NATS protocol byte stream (which WebSocket frames cut anywhere) into operations.
#[derive(Default)]
struct NatsParser {
    buf: Vec<u8>,
}

enum NatsOp<'a> {
    Msg(&'a [u8]),
    Ping,
    Pong,
    Other,
}

impl NatsParser {
    fn push(&mut self, data: &[u8], mut on: impl FnMut(NatsOp<'_>)) {
        self.buf.extend_from_slice(data);
        let mut pos = 0;
        while let Some(nl) = self.buf[pos..].iter().position(|&b| b == b'\n') {
            let line = &self.buf[pos..pos + nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.starts_with(b"MSG ") {
                let len: usize = std::str::from_utf8(line)
                    .ok()
                    .and_then(|l| l.rsplit(' ').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let start = pos + nl + 1;
                if self.buf.len() < start + len + 2 {
                    break;
                }
                on(NatsOp::Msg(&self.buf[start..start + len]));
                pos = start + len + 2;
            } else {
                on(match line {
                    b"PING" => NatsOp::Ping,
                    b"PONG" => NatsOp::Pong,
                    _ => NatsOp::Other,
                });
                pos += nl + 1;
            }
        }
        self.buf.drain(..pos);
    }
}

async fn nats_socket(url: &str, subscribe: bool) -> anyhow::Result<Ws> {
    let mut ws = Ws::connect(url).await?;
    let mut init =
        String::from("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":false}\r\n");
    if subscribe {
        init.push_str("SUB bench 1\r\n");
    }
    init.push_str("PING\r\n");
    ws.send(OP_BINARY, init.as_bytes()).await?;
    let mut p = NatsParser::default();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut pong = false;
        ws.drain(|e| {
            if let Event::Data(_, d) = e {
                p.push(d, |op| pong |= matches!(op, NatsOp::Pong));
            }
        })
        .await?;
        if pong {
            return Ok(ws);
        }
        match tokio::time::timeout_at(deadline.into(), ws.read_more()).await {
            Ok(Ok(n)) if n > 0 => {}
            Ok(Ok(_)) => bail!("closed"),
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => bail!("no PONG"),
        }
    }
}

// ---------------- runs ----------------

struct RunResult {
    deliveries_per_s: f64,
    msgs_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    disconnects: u64,
}

/// One subscriber: reads until told to stop, recording every delivery while measuring.
async fn subscriber(
    mut ws: Ws,
    target: Target,
    shared: Arc<Shared>,
    disconnects: Arc<AtomicU64>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut parser = NatsParser::default();
    let mut sent = Vec::with_capacity(256);
    let mut pongs = 0usize;
    // One wait for the stop signal for the whole run (not one registration per read).
    let stopped = stop.changed();
    tokio::pin!(stopped);
    loop {
        let read = tokio::select! {
            r = ws.read_more() => r,
            _ = &mut stopped => return,
        };
        match read {
            Ok(n) if n > 0 => {}
            _ => {
                disconnects.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let now = shared.now_us();
        let mut closed = false;
        let open = ws
            .drain(|e| match e {
                Event::Data(OP_TEXT, d) if target == Target::Relay => {
                    if let Some(us) = relay_sent_us(d) {
                        sent.push(us);
                    }
                }
                Event::Data(OP_BINARY, d) if target == Target::Nats => {
                    parser.push(d, |op| match op {
                        NatsOp::Msg(payload) => {
                            if let Some(us) = std::str::from_utf8(payload)
                                .ok()
                                .and_then(|s| s.parse().ok())
                            {
                                sent.push(us);
                            }
                        }
                        NatsOp::Ping => pongs += 1,
                        _ => {}
                    })
                }
                Event::Closed => closed = true,
                _ => {}
            })
            .await;
        shared.record(now, &mut sent);
        for _ in 0..std::mem::take(&mut pongs) {
            let _ = ws.send(OP_BINARY, b"PONG\r\n").await;
        }
        if closed || !matches!(open, Ok(true)) {
            disconnects.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
}

async fn run_fanout(
    args: &Args,
    relay: Option<&RelaySetup>,
    n: usize,
    rate: Option<f64>,
) -> anyhow::Result<RunResult> {
    let shared = Arc::new(Shared {
        base: Instant::now(),
        deliveries: AtomicU64::new(0),
        hist: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3)?),
        measuring: false.into(),
    });
    let disconnects = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // Subscribers.
    let mut subs = tokio::task::JoinSet::new();
    let mut opened = Vec::with_capacity(n);
    for i in 0..n {
        let ws = match (args.target, relay) {
            (Target::Relay, Some(r)) => {
                relay_user_socket(&args.ws, &r.users[i].1, Some(&r.channel_id)).await?
            }
            _ => nats_socket(&args.ws, true).await?,
        };
        opened.push(ws);
    }
    for ws in opened {
        subs.spawn(subscriber(
            ws,
            args.target,
            shared.clone(),
            disconnects.clone(),
            stop_rx.clone(),
        ));
    }
    // Publisher.
    let mut publisher = match (args.target, relay) {
        (Target::Relay, Some(r)) => {
            let mut ws = Ws::connect(&args.ws).await?;
            relay_request(&mut ws, json!({"type": "service_login", "request_id": "login", "access_token": r.owner_token, "service_id": r.service_id})).await?;
            ws
        }
        _ => nats_socket(&args.ws, false).await?,
    };
    let group = match relay {
        Some(r) => {
            let ids: Vec<&str> = r.users[..n].iter().map(|(u, _)| u.as_str()).collect();
            let http = reqwest::Client::new();
            post(
                &http,
                &format!("{}/service/group/create", r.http),
                Some(&r.owner_token),
                json!({"group_id": "", "characters": ids}),
            )
            .await?
            .as_str()
            .context("group")?
            .to_owned()
        }
        None => String::new(),
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    shared.measuring.store(true, Ordering::Relaxed);
    let start = Instant::now();
    let end = start + Duration::from_secs(args.seconds);
    let mut in_flight = 0usize;
    let mut sent = 0u64;
    let mut p = NatsParser::default();
    let interval = rate.map(|r| Duration::from_secs_f64(1.0 / r));
    let mut next_send = Instant::now();
    let mut out = Vec::with_capacity(64 * 1024);
    while Instant::now() < end {
        while in_flight < args.window && Instant::now() >= next_send && Instant::now() < end {
            let us = shared.now_us();
            match (args.target, relay) {
                (Target::Relay, Some(r)) => {
                    let frame = json!({"type": "message_down", "request_id": sent.to_string(), "body": {"subtype": "text", "channel_id": r.channel_id, "content": {"text": us.to_string()}, "recipients": group, "timestamp": 0, "context": {}, "sender": "bench"}}).to_string();
                    publisher.encode(OP_TEXT, frame.as_bytes(), &mut out);
                }
                _ => {
                    let payload = us.to_string();
                    let frame = format!("PUB bench {}\r\n{payload}\r\nPING\r\n", payload.len());
                    publisher.encode(OP_BINARY, frame.as_bytes(), &mut out);
                }
            }
            in_flight += 1;
            sent += 1;
            if let Some(iv) = interval {
                // Paced: catch up on every send whose time has come, then wait for the next.
                next_send += iv;
            }
        }
        if !out.is_empty() {
            publisher.stream.write_all(&out).await?;
            out.clear();
        }
        let wait = if in_flight >= args.window || interval.is_none() {
            Duration::from_millis(200)
        } else {
            next_send
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(200))
        };
        let mut acked = 0usize;
        let open = publisher
            .drain(|e| match (e, args.target) {
                (Event::Data(_, d), Target::Relay)
                    if std::str::from_utf8(d).is_ok_and(|t| t.contains("\"copy\"")) =>
                {
                    acked += 1;
                }
                (Event::Data(_, d), Target::Nats) => {
                    p.push(d, |op| acked += matches!(op, NatsOp::Pong) as usize)
                }
                _ => {}
            })
            .await?;
        if !open {
            bail!("publisher connection ended");
        }
        if acked > 0 {
            in_flight = in_flight.saturating_sub(acked);
            continue;
        }
        match tokio::time::timeout(wait, publisher.read_more()).await {
            Ok(Ok(0)) | Ok(Err(_)) => bail!("publisher connection ended"),
            _ => {}
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    shared.measuring.store(false, Ordering::Relaxed);
    let delivered = shared.deliveries.load(Ordering::Relaxed);
    let h = shared.hist.lock().unwrap().clone();
    let _ = stop_tx.send(true);
    while subs.join_next().await.is_some() {}
    let _ = publisher.send(OP_CLOSE, &1000u16.to_be_bytes()).await;
    drop(publisher);
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(RunResult {
        deliveries_per_s: delivered as f64 / elapsed,
        msgs_per_s: sent as f64 / elapsed,
        p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
        disconnects: disconnects.load(Ordering::Relaxed),
    })
}

/// The server's RSS once it has stopped moving. The set-up hashes passwords (argon2, 19 MiB each)
/// on blocking threads; their memory goes back to the system only when those threads exit,
/// 10 s after their last task, so a reading taken sooner counts set-up memory as the baseline.
async fn settled_rss_kib(pid: u32) -> anyhow::Result<u64> {
    const IDLE_THREAD_EXIT: Duration = Duration::from_secs(11);
    tokio::time::sleep(IDLE_THREAD_EXIT).await;
    let mut last = rss_kib(pid).context("reading server RSS")?;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = rss_kib(pid).context("reading server RSS")?;
        if now.abs_diff(last) <= 64 {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

/// Server RSS per idle connection. The first half of the connections only brings the server to
/// its steady state (the allocator keeps freed set-up memory for a while and hands it back while
/// later work runs, which once made the RSS *fall* as sockets opened); the figure is the growth
/// from the first half to all of them, divided by the second half.
async fn idle_rss(args: &Args, relay: Option<&RelaySetup>) -> anyhow::Result<Option<f64>> {
    let Some(pid) = args.server_pid else {
        return Ok(None);
    };
    if args.idle < 2 {
        return Ok(None);
    }
    let half = args.idle / 2;
    let mut conns = Vec::with_capacity(args.idle);
    let mut readings = Vec::new();
    for i in 0..args.idle {
        if i == 0 || i == half {
            readings.push(settled_rss_kib(pid).await?);
        }
        conns.push(match (args.target, relay) {
            (Target::Relay, Some(r)) => {
                relay_user_socket(&args.ws, &r.users[i % r.users.len()].1, None).await?
            }
            _ => nats_socket(&args.ws, true).await?,
        });
    }
    readings.push(settled_rss_kib(pid).await?);
    drop(conns);
    eprintln!(
        "server RSS {} KiB before, {} KiB with {half} idle connections, {} KiB with {}",
        readings[0], readings[1], readings[2], args.idle
    );
    Ok(Some(
        (readings[2] as f64 - readings[1] as f64) / (args.idle - half) as f64,
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let fanouts: Vec<usize> = args
        .fanouts
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let max_n = fanouts.iter().copied().max().unwrap_or(0).max(args.idle);
    let relay = match args.target {
        Target::Relay => Some(
            relay_setup(
                args.http
                    .as_deref()
                    .context("--http is required for relay")?,
                max_n,
            )
            .await?,
        ),
        Target::Nats => None,
    };
    let name = format!("{:?}", args.target).to_lowercase();
    // Memory first, while the server has not yet grown buffers for the throughput runs.
    if let Some(kib) = idle_rss(&args, relay.as_ref()).await? {
        println!(
            "{}",
            json!({"target": name, "idle_connections": args.idle, "rss_kib_per_connection": (kib * 100.0).round() / 100.0})
        );
    }
    if let Some(rate) = args.rate {
        for &n in &fanouts {
            let r = run_fanout(&args, relay.as_ref(), n, Some(rate)).await?;
            println!(
                "{}",
                json!({"target": name, "fanout": n, "mode": "paced", "rate_msgs_per_s": rate, "deliveries_per_s": r.deliveries_per_s.round(), "msgs_per_s": r.msgs_per_s.round(), "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "disconnects": r.disconnects})
            );
        }
        return Ok(());
    }
    let mut last_peak = None;
    for &n in &fanouts {
        let r = run_fanout(&args, relay.as_ref(), n, None).await?;
        println!(
            "{}",
            json!({"target": name, "fanout": n, "mode": "peak", "deliveries_per_s": r.deliveries_per_s.round(), "msgs_per_s": r.msgs_per_s.round(), "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "disconnects": r.disconnects})
        );
        last_peak = Some((n, r.msgs_per_s));
    }
    if let (true, Some((n, peak))) = (args.half_peak, last_peak) {
        let rate = (peak / 2.0).max(1.0);
        let r = run_fanout(&args, relay.as_ref(), n, Some(rate)).await?;
        println!(
            "{}",
            json!({"target": name, "fanout": n, "mode": "half_peak", "rate_msgs_per_s": rate.round(), "deliveries_per_s": r.deliveries_per_s.round(), "msgs_per_s": r.msgs_per_s.round(), "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "disconnects": r.disconnects})
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::relay_sent_us;
    use relay_wire::channel::outbound::{copy, message, MessageBody, Position};
    use serde_json::json;

    fn down(text: &str) -> String {
        let body = MessageBody {
            subtype: "text".into(),
            channel_id: "c".into(),
            content: json!({"text": text}),
            recipients: "g".into(),
            timestamp: 1,
            context: json!({}),
            sender: "s".into(),
            message_id: "m".into(),
        };
        message(
            "message_down",
            Some("svc"),
            &body,
            Some(Position {
                epoch: "e",
                offset: 3,
            }),
        )
    }

    #[test]
    fn finds_the_send_time_in_the_servers_message_down() {
        assert_eq!(relay_sent_us(down("123456").as_bytes()), Some(123_456));
    }

    #[test]
    fn ignores_other_frames_and_non_numeric_or_invalid_text() {
        assert_eq!(
            relay_sent_us(copy("r", "message_down", true, None).as_bytes()),
            None
        );
        assert_eq!(relay_sent_us(down("hello").as_bytes()), None);
        let mut bad = down("42").into_bytes();
        bad.push(0xff);
        assert_eq!(relay_sent_us(&bad), None);
    }
}
