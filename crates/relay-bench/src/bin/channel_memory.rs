//! Channel memory against stored volume: starts `relay serve` on an empty data directory, has a
//! service send `message_down`s over the channel socket (as `channel_fanout` does) to a group
//! of one user in each of C channels until each holds M messages, and reports RSS before and
//! after, RSS per stored message, the data directory's size, the time from a restart after
//! `kill -9` to `listening on`, the RSS after it, and history and resume latency at depth
//! against a shallow channel (200 messages) of the same server.
//!
//! Latency is measured after the restart, so nothing of the deep channels is in memory: the
//! reads go to the store, as they would on a server that has held deep channels for a while.
//! `scripts/bench-channel-memory` builds and runs this; see docs/benchmarks.md, section
//! "Channel memory".

#[allow(dead_code)]
#[path = "channel_fanout/relay.rs"]
mod relay;
#[allow(dead_code)]
#[path = "channel_fanout/ws.rs"]
mod ws;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use hdrhistogram::Histogram;
use relay_bench::memory::{disk_usage, histogram, record, rss, Server};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use relay::{account, get, post, relay_request, relay_user_socket};
use relay_wire::websocket::OP_TEXT;
use ws::Ws;

#[derive(Parser)]
#[command(about = "Relay's channel memory and restart time against stored volume")]
struct Args {
    /// The `relay` binary to measure.
    #[arg(long)]
    relay_bin: PathBuf,
    /// What to call this binary in the report.
    #[arg(long, default_value = "relay")]
    label: String,
    /// `--cache-mb` for relay serve (left out when not given).
    #[arg(long)]
    cache_mb: Option<u64>,
    /// Layouts to measure, comma-separated, as CHANNELSxMESSAGES (messages per channel); each
    /// starts from an empty directory.
    #[arg(long, value_delimiter = ',', default_value = "1x100000,10x100000")]
    layouts: Vec<String>,
    /// Bytes of each message's text.
    #[arg(long, default_value_t = 100)]
    text_size: usize,
    /// Unconfirmed `message_down`s the service may have in flight.
    #[arg(long, default_value_t = 256)]
    window: usize,
    /// Requests timed per latency figure.
    #[arg(long, default_value_t = 300)]
    samples: u64,
    /// Where the data directories go (removed afterwards).
    #[arg(long, default_value = "/tmp")]
    work_dir: PathBuf,
}

const SHALLOW: u64 = 200;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!(
        "machine: {} cores; text {} B; window {}; {} samples per latency; --cache-mb {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.text_size,
        args.window,
        args.samples,
        args.cache_mb
            .map_or("(default)".to_owned(), |m| m.to_string())
    );
    for layout in &args.layouts {
        let (c, m) = layout
            .split_once('x')
            .context("a layout is CHANNELSxMESSAGES")?;
        let (channels, per_channel): (u64, u64) = (c.parse()?, m.parse()?);
        let dir = args
            .work_dir
            .join(format!("channel-memory-{}-{layout}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let r = runtime.block_on(run(&args, channels, per_channel, &dir));
        let _ = std::fs::remove_dir_all(&dir);
        report(&args, channels, per_channel, &r?);
    }
    Ok(())
}

struct Figures {
    rss_before: u64,
    rss_after: u64,
    fill_secs: f64,
    data_bytes: u64,
    restart: Duration,
    rss_restarted: u64,
    rss_after_probes: u64,
    /// (what, deep, shallow)
    latency: Vec<(&'static str, Histogram<u64>, Histogram<u64>)>,
}

fn report(args: &Args, channels: u64, per_channel: u64, r: &Figures) {
    let n = channels * per_channel;
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!();
    println!(
        "### {}: {channels} channel(s) x {per_channel} messages = {n} stored",
        args.label
    );
    println!();
    println!("| figure | value |");
    println!("|---|---:|");
    println!("| RSS before the fill, MiB | {:.1} |", mib(r.rss_before));
    println!("| RSS after the fill, MiB | {:.1} |", mib(r.rss_after));
    println!(
        "| RSS per stored message, bytes | {:.0} |",
        r.rss_after.saturating_sub(r.rss_before) as f64 / n as f64
    );
    println!(
        "| fill, messages/s | {:.0} |",
        (n + SHALLOW) as f64 / r.fill_secs
    );
    println!("| data directory, MiB | {:.1} |", mib(r.data_bytes));
    println!(
        "| restart after kill -9 to listening, ms | {:.0} |",
        r.restart.as_secs_f64() * 1000.0
    );
    println!(
        "| RSS after the restart, MiB | {:.1} |",
        mib(r.rss_restarted)
    );
    println!(
        "| RSS after the latency probes, MiB | {:.1} |",
        mib(r.rss_after_probes)
    );
    println!();
    println!("| latency, ms (p50 / p99) | at depth | shallow ({SHALLOW}) | p50 ratio |");
    println!("|---|---:|---:|---:|");
    for (what, deep, shallow) in &r.latency {
        println!(
            "| {what} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2}x |",
            ms(deep, 0.5),
            ms(deep, 0.99),
            ms(shallow, 0.5),
            ms(shallow, 0.99),
            ms(deep, 0.5) / ms(shallow, 0.5).max(0.001)
        );
    }
}

/// Starts relay serve on `dir`; returns it, its address and how long it took to listen.
fn start_relay(
    args: &Args,
    dir: &Path,
    log: &str,
) -> anyhow::Result<(Server, SocketAddr, Duration)> {
    let log = dir.join(log);
    let mut cmd = Command::new(&args.relay_bin);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--open-signup"])
        .args(["--channel-max-frames-per-sec", "0"])
        .arg("--data")
        .arg(dir.join("data"));
    relay_bench::memory::start_relay(cmd, &log, args.cache_mb)
}

/// Who is where: the service's owner, the user every message reaches, the channels (the
/// shallow one last) and the group of that one user.
struct Setup {
    owner_token: String,
    service_id: String,
    user_token: String,
    channels: Vec<String>,
    group: String,
}

async fn setup(base: &str, ws_url: &str, channels: u64) -> anyhow::Result<Setup> {
    let http = reqwest::Client::new();
    let (_, owner_token) = account(&http, base, "owner@example.com".into()).await?;
    let (user_id, user_token) = account(&http, base, "user@example.com".into()).await?;
    let service_id = post(
        &http,
        &format!("{base}/service/create"),
        Some(&owner_token),
        json!({"description": "bench"}),
    )
    .await?["service_id"]
        .as_str()
        .context("service id")?
        .to_owned();
    let mut ids = Vec::new();
    for i in 0..=channels {
        let ch = post(
            &http,
            &format!("{base}/channel/create"),
            Some(&owner_token),
            json!({"channel_name": format!("bench {i}"), "context": {}}),
        )
        .await?["channel_id"]
            .as_str()
            .context("channel id")?
            .to_owned();
        post(
            &http,
            &format!("{base}/service/bind"),
            Some(&owner_token),
            json!({"channel_id": ch, "service_id": service_id}),
        )
        .await?;
        relay_user_socket(ws_url, &user_token, Some(&ch)).await?;
        ids.push(ch);
    }
    let group = post(
        &http,
        &format!("{base}/service/group/create"),
        Some(&owner_token),
        json!({"group_id": "", "characters": [user_id]}),
    )
    .await?
    .as_str()
    .context("group")?
    .to_owned();
    Ok(Setup {
        owner_token,
        service_id,
        user_token,
        channels: ids,
        group,
    })
}

/// The service sends `per_channel` messages to every deep channel, round robin, and SHALLOW to
/// the last one, with at most `window` unconfirmed.
async fn fill(args: &Args, ws_url: &str, s: &Setup, per_channel: u64) -> anyhow::Result<()> {
    let mut ws = Ws::connect(ws_url).await?;
    relay_request(&mut ws, json!({"type": "service_login", "request_id": "login", "access_token": s.owner_token, "service_id": s.service_id})).await?;
    let deep = &s.channels[..s.channels.len() - 1];
    let mut plan = (0..per_channel)
        .flat_map(|i| deep.iter().map(move |c| (c, i)))
        .chain((0..SHALLOW).map(|i| (s.channels.last().expect("shallow"), i)));
    let pad = "x".repeat(args.text_size.saturating_sub(24));
    let (mut in_flight, mut done) = (0usize, false);
    let mut out = Vec::with_capacity(1 << 20);
    loop {
        while !done && in_flight < args.window {
            let Some((ch, i)) = plan.next() else {
                done = true;
                break;
            };
            let frame = json!({"type": "message_down", "request_id": "m", "body": {"subtype": "text", "channel_id": ch, "content": {"text": format!("message {i:012} {pad}")}, "recipients": s.group, "timestamp": 0, "context": {}, "sender": "bench"}}).to_string();
            ws.encode(OP_TEXT, frame.as_bytes(), &mut out);
            in_flight += 1;
        }
        if !out.is_empty() {
            ws.stream.write_all(&out).await?;
            out.clear();
        }
        if in_flight == 0 {
            return Ok(());
        }
        // Read copies until half the window is free again.
        while in_flight > 0 && (done || in_flight > args.window / 2) {
            let t = tokio::time::timeout(Duration::from_secs(60), ws.next_text())
                .await
                .context("no copy within 60 s")??;
            let v: Value = serde_json::from_str(&t)?;
            if v["type"] == "copy" {
                if v["body"]["status"] != true {
                    bail!("message_down refused: {v}");
                }
                in_flight -= 1;
            }
        }
    }
}

/// One timed resume on the user's socket: from `from` until its copy; how many it replayed.
async fn timed_resume(ws: &mut Ws, channel: &str, from: u64) -> anyhow::Result<(Duration, u64)> {
    let started = Instant::now();
    ws.send_text(&json!({"type": "resume", "request_id": "r", "body": {"channel_id": channel, "from": from}}).to_string()).await?;
    let mut replayed = 0;
    loop {
        let t = ws.next_text().await?;
        let v: Value = serde_json::from_str(&t)?;
        if v["type"] == "copy" && v["body"]["request_id"] == "r" {
            let ctx = &v["body"]["context"];
            if ctx["replayed"].as_u64() != Some(replayed) {
                bail!("resume: {replayed} frames for {ctx}");
            }
            return Ok((started.elapsed(), replayed));
        }
        if v["type"] == "message_down" {
            replayed += 1;
        }
    }
}

async fn latencies(
    args: &Args,
    base: &str,
    ws_url: &str,
    s: &Setup,
    per_channel: u64,
) -> anyhow::Result<Vec<(&'static str, Histogram<u64>, Histogram<u64>)>> {
    let http = reqwest::Client::new();
    let deep = &s.channels[0];
    let shallow = s.channels.last().expect("shallow");
    let mut ws = relay_user_socket(ws_url, &s.user_token, None).await?;
    // Where each log starts (a resume without an offset replays nothing) and where its
    // messages end: the kill -9 left the offsets reserved beyond them as a hole.
    let mut ends = Vec::new();
    for (ch, count) in [(deep, per_channel), (shallow, SHALLOW)] {
        ws.send_text(
            &json!({"type": "resume", "request_id": "r", "body": {"channel_id": ch}}).to_string(),
        )
        .await?;
        loop {
            let v: Value = serde_json::from_str(&ws.next_text().await?)?;
            if v["type"] == "copy" {
                let first = v["body"]["context"]["first_offset"].as_u64().unwrap_or(0);
                ends.push((first, first + count));
                break;
            }
        }
    }
    let mut out = Vec::new();
    let history = |ch: &str, limit: u32| {
        format!("{base}/channel/history_message?channel_id={ch}&limit={limit}")
    };
    for (what, limit) in [("history, newest 50", 50), ("history, newest 1000", 1000)] {
        let mut hs = [histogram(), histogram()];
        for i in 0..args.samples {
            for (h, ch) in hs.iter_mut().zip([deep, shallow]) {
                let started = Instant::now();
                let got = get(&http, &history(ch, limit), &s.user_token).await?;
                record(h, started.elapsed());
                let want = if ch == shallow {
                    SHALLOW.min(limit as u64)
                } else {
                    limit as u64
                };
                if got.as_array().map(Vec::len) != Some(want as usize) {
                    bail!(
                        "{what} #{i}: {} messages",
                        got.as_array().map_or(0, Vec::len)
                    );
                }
            }
        }
        let [d, sh] = hs;
        out.push((what, d, sh));
    }
    // The last 100 of each channel, then 1,000 from the start of each (the oldest a deep
    // channel holds: read from the store beyond any cache).
    for (what, back) in [
        ("resume, last 100", Some(100)),
        ("resume, 1000 from the oldest", None),
    ] {
        let mut hs = [histogram(), histogram()];
        for _ in 0..args.samples {
            for ((h, &(first, next)), ch) in hs.iter_mut().zip(&ends).zip([deep, shallow]) {
                let from = back.map_or(first, |b| next.saturating_sub(b));
                let (took, replayed) = timed_resume(&mut ws, ch, from).await?;
                if replayed != (next - from).min(1000) {
                    bail!("{what}: {replayed} replayed from {from} of {first}..{next}");
                }
                record(h, took);
            }
        }
        let [d, sh] = hs;
        out.push((what, d, sh));
    }
    Ok(out)
}

async fn run(args: &Args, channels: u64, per_channel: u64, dir: &Path) -> anyhow::Result<Figures> {
    let (server, addr, _) = start_relay(args, dir, "relay.log")?;
    let base = format!("http://{addr}");
    let ws_url = format!("ws://{addr}/ws");
    let s = setup(&base, &ws_url, channels).await?;
    let pid = server.child.id();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss(pid)?;
    let started = Instant::now();
    fill(args, &ws_url, &s, per_channel).await?;
    let fill_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = rss(pid)?;
    let data_bytes = disk_usage(&dir.join("data"));
    drop(server); // kill -9
    let (server, addr, restart) = start_relay(args, dir, "relay-restarted.log")?;
    let pid = server.child.id();
    let rss_restarted = rss(pid)?;
    let latency = latencies(
        args,
        &format!("http://{addr}"),
        &format!("ws://{addr}/ws"),
        &s,
        per_channel,
    )
    .await?;
    let rss_after_probes = rss(pid)?;
    Ok(Figures {
        rss_before,
        rss_after,
        fill_secs,
        data_bytes,
        restart,
        rss_restarted,
        rss_after_probes,
        latency,
    })
}
