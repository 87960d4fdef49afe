//! Fan-out load generator for realtime channels: one publisher, N subscribers, against Relay's
//! channel face or NATS over WebSocket. Reports deliveries per second, delivery latency
//! percentiles and server RSS per idle connection, one JSON object per line.
//!
//! The publisher keeps at most `--window` messages unconfirmed (Relay: the `copy` of each
//! `message_down`; NATS: a PONG after each PUB). Each payload carries its send time, so latency
//! is measured end to end in this one process.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

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
    /// Idle connections to open for the memory measurement (0 = skip).
    #[arg(long, default_value_t = 1000)]
    idle: usize,
    /// Server process id, for RSS.
    #[arg(long)]
    server_pid: Option<u32>,
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Shared {
    base: Instant,
    deliveries: AtomicU64,
    hist: Mutex<Histogram<u64>>,
    measuring: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn record(&self, sent_us: u64) {
        if !self.measuring.load(Ordering::Relaxed) {
            return;
        }
        let now = self.base.elapsed().as_micros() as u64;
        self.deliveries.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut h) = self.hist.lock() {
            let _ = h.record(now.saturating_sub(sent_us).max(1));
        }
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

async fn connect(url: &str) -> anyhow::Result<Ws> {
    let (ws, _) = tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::connect_async(url)).await.context("connect timed out")??;
    Ok(ws)
}

// ---------------- Relay ----------------

struct RelaySetup {
    http: String,
    owner_token: String,
    service_id: String,
    channel_id: String,
    users: Vec<(String, String)>, // (user_id, token)
}

async fn post(http: &reqwest::Client, url: &str, token: Option<&str>, body: Value) -> anyhow::Result<Value> {
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
    let v: Value = http.get(url).bearer_auth(token).send().await?.json().await?;
    if v["code"] != 10000 {
        bail!("{url}: {v}");
    }
    Ok(v["data"].clone())
}

async fn account(http: &reqwest::Client, base: &str, email: String) -> anyhow::Result<(String, String)> {
    let pw = "bench-password";
    let _ = post(http, &format!("{base}/auth/sign_up"), None, json!({"username": email, "password": pw})).await;
    let d = post(http, &format!("{base}/auth/sign_in"), None, json!({"username": email, "password": pw})).await?;
    let token = d["AuthenticationResult"]["AccessToken"].as_str().context("no token")?.to_owned();
    let uid = get(http, &format!("{base}/user/info"), &token).await?["user_id"].as_str().context("no user id")?.to_owned();
    Ok((uid, token))
}

async fn relay_setup(base: &str, users: usize) -> anyhow::Result<RelaySetup> {
    let http = reqwest::Client::new();
    let (_, owner_token) = account(&http, base, "bench-owner@example.com".into()).await?;
    let service_id = post(&http, &format!("{base}/service/create"), Some(&owner_token), json!({"description": "bench"})).await?["service_id"].as_str().context("sid")?.to_owned();
    let channel_id = post(&http, &format!("{base}/channel/create"), Some(&owner_token), json!({"channel_name": "bench", "context": {}})).await?["channel_id"].as_str().context("ch")?.to_owned();
    post(&http, &format!("{base}/service/bind"), Some(&owner_token), json!({"channel_id": channel_id, "service_id": service_id})).await?;
    let mut out = Vec::with_capacity(users);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..users {
        let http = http.clone();
        let base = base.to_owned();
        set.spawn(async move { (i, account(&http, &base, format!("bench-user-{i}@example.com")).await) });
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
    Ok(RelaySetup { http: base.to_owned(), owner_token, service_id, channel_id, users: out.into_iter().map(|(_, u)| u).collect() })
}

/// Sends a frame and waits for its copy, skipping anything else.
async fn relay_request(ws: &mut Ws, frame: Value) -> anyhow::Result<()> {
    let rid = frame["request_id"].as_str().unwrap_or("").to_owned();
    ws.send(Message::text(frame.to_string())).await?;
    loop {
        let m = tokio::time::timeout(Duration::from_secs(20), ws.next()).await.context("no copy")?.context("closed")??;
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(t.as_str())?;
            if v["type"] == "copy" && v["body"]["request_id"] == rid.as_str() {
                if v["body"]["status"] != true {
                    bail!("refused: {v}");
                }
                return Ok(());
            }
        }
    }
}

async fn relay_user_socket(url: &str, token: &str, join: Option<&str>) -> anyhow::Result<Ws> {
    let mut ws = connect(url).await?;
    relay_request(&mut ws, json!({"type": "user_login", "request_id": "login", "access_token": token})).await?;
    if let Some(ch) = join {
        relay_request(&mut ws, json!({"type": "action", "request_id": "join", "body": {"subtype": "join_channel", "channel_id": ch, "context": {}}})).await?;
    }
    Ok(ws)
}

/// The send time in a delivered frame: the text content is the microseconds since `base`.
fn relay_sent_us(frame: &str) -> Option<u64> {
    if !frame.contains("\"message_down\"") {
        return None;
    }
    let i = frame.find("\"text\":\"")? + 8;
    let rest = &frame[i..];
    rest[..rest.find('"')?].parse().ok()
}

// ---------------- NATS over WebSocket ----------------

/// Splits NATS protocol bytes into operations; returns MSG payloads and whether a PING/PONG came.
#[derive(Default)]
struct NatsParser {
    buf: Vec<u8>,
}

enum NatsOp {
    Msg(Vec<u8>),
    Ping,
    Pong,
    Other,
}

impl NatsParser {
    fn push(&mut self, data: &[u8]) -> Vec<NatsOp> {
        self.buf.extend_from_slice(data);
        let mut ops = Vec::new();
        let mut pos = 0;
        loop {
            let Some(nl) = self.buf[pos..].windows(2).position(|w| w == b"\r\n") else { break };
            let line = &self.buf[pos..pos + nl];
            if line.starts_with(b"MSG ") {
                let len: usize = std::str::from_utf8(line).ok().and_then(|l| l.rsplit(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
                let start = pos + nl + 2;
                if self.buf.len() < start + len + 2 {
                    break;
                }
                ops.push(NatsOp::Msg(self.buf[start..start + len].to_vec()));
                pos = start + len + 2;
            } else {
                ops.push(match line {
                    b"PING" => NatsOp::Ping,
                    b"PONG" => NatsOp::Pong,
                    _ => NatsOp::Other,
                });
                pos += nl + 2;
            }
        }
        self.buf.drain(..pos);
        ops
    }
}

async fn nats_socket(url: &str, subscribe: bool) -> anyhow::Result<Ws> {
    let mut ws = connect(url).await?;
    let mut init = String::from("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":false}\r\n");
    if subscribe {
        init.push_str("SUB bench 1\r\n");
    }
    init.push_str("PING\r\n");
    ws.send(Message::binary(init.into_bytes())).await?;
    let mut p = NatsParser::default();
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.context("no PONG")?.context("closed")??;
        let data = m.into_data();
        if p.push(&data).iter().any(|o| matches!(o, NatsOp::Pong)) {
            return Ok(ws);
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

async fn run_fanout(args: &Args, relay: Option<&RelaySetup>, n: usize, rate: Option<f64>) -> anyhow::Result<RunResult> {
    let shared = Arc::new(Shared {
        base: Instant::now(),
        deliveries: AtomicU64::new(0),
        hist: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3)?),
        measuring: false.into(),
    });
    let disconnects = Arc::new(AtomicU64::new(0));
    // Subscribers.
    let mut subs = tokio::task::JoinSet::new();
    let mut opened = Vec::with_capacity(n);
    for i in 0..n {
        let ws = match (args.target, relay) {
            (Target::Relay, Some(r)) => relay_user_socket(&args.ws, &r.users[i].1, Some(&r.channel_id)).await?,
            _ => nats_socket(&args.ws, true).await?,
        };
        opened.push(ws);
    }
    for mut ws in opened {
        let shared = shared.clone();
        let disc = disconnects.clone();
        let target = args.target;
        subs.spawn(async move {
            let mut p = NatsParser::default();
            while let Some(m) = ws.next().await {
                match m {
                    Ok(Message::Text(t)) if target == Target::Relay => {
                        if let Some(us) = relay_sent_us(t.as_str()) {
                            shared.record(us);
                        }
                    }
                    Ok(Message::Binary(b)) if target == Target::Nats => {
                        for op in p.push(&b) {
                            match op {
                                NatsOp::Msg(payload) => {
                                    if let Some(us) = std::str::from_utf8(&payload).ok().and_then(|s| s.parse().ok()) {
                                        shared.record(us);
                                    }
                                }
                                NatsOp::Ping => {
                                    let _ = ws.send(Message::binary(b"PONG\r\n".to_vec())).await;
                                }
                                _ => {}
                            }
                        }
                    }
                    Ok(Message::Close(_)) | Err(_) => {
                        disc.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    _ => {}
                }
            }
        });
    }
    // Publisher.
    let mut publisher = match (args.target, relay) {
        (Target::Relay, Some(r)) => {
            let mut ws = connect(&args.ws).await?;
            relay_request(&mut ws, json!({"type": "service_login", "request_id": "login", "access_token": r.owner_token, "service_id": r.service_id})).await?;
            ws
        }
        _ => nats_socket(&args.ws, false).await?,
    };
    let group = match relay {
        Some(r) => {
            let ids: Vec<&str> = r.users[..n].iter().map(|(u, _)| u.as_str()).collect();
            let http = reqwest::Client::new();
            post(&http, &format!("{}/service/group/create", r.http), Some(&r.owner_token), json!({"group_id": "", "characters": ids})).await?.as_str().context("group")?.to_owned()
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
    while Instant::now() < end {
        while in_flight < args.window && Instant::now() >= next_send && Instant::now() < end {
            let us = shared.base.elapsed().as_micros() as u64;
            let msg = match (args.target, relay) {
                (Target::Relay, Some(r)) => Message::text(
                    json!({"type": "message_down", "request_id": sent.to_string(), "body": {"subtype": "text", "channel_id": r.channel_id, "content": {"text": us.to_string()}, "recipients": group, "timestamp": 0, "context": {}, "sender": "bench"}}).to_string(),
                ),
                _ => {
                    let payload = us.to_string();
                    Message::binary(format!("PUB bench {}\r\n{payload}\r\nPING\r\n", payload.len()).into_bytes())
                }
            };
            publisher.feed(msg).await?;
            in_flight += 1;
            sent += 1;
            if let Some(iv) = interval {
                // Paced: catch up on every send whose time has come, then wait for the next.
                next_send += iv;
            }
        }
        publisher.flush().await?;
        let wait = if in_flight >= args.window || interval.is_none() { Duration::from_millis(200) } else { next_send.saturating_duration_since(Instant::now()).min(Duration::from_millis(200)) };
        match tokio::time::timeout(wait, publisher.next()).await {
            Ok(Some(Ok(m))) => match args.target {
                Target::Relay => {
                    if let Message::Text(t) = m {
                        if t.as_str().contains("\"copy\"") {
                            in_flight = in_flight.saturating_sub(1);
                        }
                    }
                }
                Target::Nats => {
                    for op in p.push(&m.into_data()) {
                        if matches!(op, NatsOp::Pong) {
                            in_flight = in_flight.saturating_sub(1);
                        }
                    }
                }
            },
            Ok(_) => bail!("publisher connection ended"),
            Err(_) => {}
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    shared.measuring.store(false, Ordering::Relaxed);
    let delivered = shared.deliveries.load(Ordering::Relaxed);
    let h = shared.hist.lock().unwrap().clone();
    subs.abort_all();
    let _ = publisher.close(None).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(RunResult {
        deliveries_per_s: delivered as f64 / elapsed,
        msgs_per_s: sent as f64 / elapsed,
        p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
        disconnects: disconnects.load(Ordering::Relaxed),
    })
}

async fn idle_rss(args: &Args, relay: Option<&RelaySetup>) -> anyhow::Result<Option<f64>> {
    let Some(pid) = args.server_pid else { return Ok(None) };
    if args.idle == 0 {
        return Ok(None);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kib(pid).context("reading server RSS")?;
    let mut conns = Vec::with_capacity(args.idle);
    for i in 0..args.idle {
        conns.push(match (args.target, relay) {
            (Target::Relay, Some(r)) => relay_user_socket(&args.ws, &r.users[i % r.users.len()].1, None).await?,
            _ => nats_socket(&args.ws, true).await?,
        });
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(pid).context("reading server RSS")?;
    drop(conns);
    Ok(Some((after.saturating_sub(before)) as f64 / args.idle as f64))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let fanouts: Vec<usize> = args.fanouts.split(',').map(|s| s.trim().parse()).collect::<Result<_, _>>()?;
    let max_n = fanouts.iter().copied().max().unwrap_or(0).max(args.idle);
    let relay = match args.target {
        Target::Relay => Some(relay_setup(args.http.as_deref().context("--http is required for relay")?, max_n).await?),
        Target::Nats => None,
    };
    let name = format!("{:?}", args.target).to_lowercase();
    // Memory first, while the server has not yet grown buffers for the throughput runs.
    if let Some(kib) = idle_rss(&args, relay.as_ref()).await? {
        println!("{}", json!({"target": name, "idle_connections": args.idle, "rss_kib_per_connection": (kib * 100.0).round() / 100.0}));
    }
    let mut last_peak = None;
    for &n in &fanouts {
        let r = run_fanout(&args, relay.as_ref(), n, None).await?;
        println!("{}", json!({"target": name, "fanout": n, "mode": "peak", "deliveries_per_s": r.deliveries_per_s.round(), "msgs_per_s": r.msgs_per_s.round(), "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "disconnects": r.disconnects}));
        last_peak = Some((n, r.msgs_per_s));
    }
    if let (true, Some((n, peak))) = (args.half_peak, last_peak) {
        let rate = (peak / 2.0).max(1.0);
        let r = run_fanout(&args, relay.as_ref(), n, Some(rate)).await?;
        println!("{}", json!({"target": name, "fanout": n, "mode": "half_peak", "rate_msgs_per_s": rate.round(), "deliveries_per_s": r.deliveries_per_s.round(), "msgs_per_s": r.msgs_per_s.round(), "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "disconnects": r.disconnects}));
    }
    Ok(())
}
