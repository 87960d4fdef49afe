//! Shared and the measured runs: the subscribers, the publisher and its window.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hdrhistogram::Histogram;
use relay_wire::websocket::{OP_BINARY, OP_CLOSE, OP_TEXT};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::nats::{nats_socket, NatsOp, NatsParser};
use super::relay::{post, relay_request, relay_sent_us, relay_user_socket, RelaySetup};
use super::ws::{Event, Ws};
use super::{cpu_used_us, Args, Target};

pub(crate) struct Shared {
    pub(crate) base: Instant,
    pub(crate) deliveries: AtomicU64,
    pub(crate) hist: Mutex<Histogram<u64>>,
    pub(crate) measuring: AtomicBool,
}

impl Shared {
    pub(crate) fn now_us(&self) -> u64 {
        self.base.elapsed().as_micros() as u64
    }

    /// Records the send times of the deliveries one subscriber read in one go, received at
    /// `now_us` (one lock per read, not per delivery, so subscribers do not contend).
    pub(crate) fn record(&self, now_us: u64, sent: &mut Vec<u64>) {
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

pub(crate) struct RunResult {
    pub(crate) deliveries_per_s: f64,
    pub(crate) msgs_per_s: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) disconnects: u64,
    /// The server's CPU time (user + system) over the measured run per delivery, when its pid
    /// is known.
    pub(crate) server_cpu_us_per_delivery: Option<f64>,
    /// The server's CPU time over the run per second of it: cores in use.
    pub(crate) server_cores: Option<f64>,
}

/// One subscriber: reads until told to stop, recording every delivery while measuring.
pub(crate) async fn subscriber(
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

pub(crate) async fn run_fanout(
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
                relay_user_socket(args.member_ws(i), &r.users[i].1, Some(&r.channel_id)).await?
            }
            _ => nats_socket(args.member_ws(i), true).await?,
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
    let cpu_start = args.server_cpu_us();
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
    let cpu = cpu_used_us(&cpu_start, &args.server_cpu_us()).map(|c| c as f64);
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
        server_cpu_us_per_delivery: cpu.map(|c| c / delivered.max(1) as f64),
        server_cores: cpu.map(|c| c / 1e6 / elapsed),
    })
}
