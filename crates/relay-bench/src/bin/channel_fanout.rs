//! Fan-out load generator for realtime channels: one publisher, N subscribers, against Relay's
//! channel face or NATS over WebSocket. Reports deliveries per second, delivery latency
//! percentiles and server RSS per idle connection, one JSON object per line.
//!
//! The publisher keeps at most `--window` messages unconfirmed (Relay: the `copy` of each
//! `message_down`; NATS: a PONG after each PUB). Each payload carries its send time, so latency
//! is measured end to end in this one process.

#[path = "channel_fanout/fanout.rs"]
mod fanout;
#[path = "channel_fanout/nats.rs"]
mod nats;
#[path = "channel_fanout/relay.rs"]
mod relay;
#[path = "channel_fanout/rss.rs"]
mod rss;
#[path = "channel_fanout/ws.rs"]
mod ws;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use serde_json::json;

use fanout::run_fanout;
use relay::relay_setup;
use rss::{cpu_us, idle_rss};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
enum Target {
    Relay,
    Nats,
}

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum)]
    target: Target,
    /// WebSocket URL (Relay: ws://host:port/ws; NATS: its websocket listener): the publisher's,
    /// and the subscribers' unless `--member-ws` is given.
    #[arg(long)]
    ws: String,
    /// WebSocket URLs the subscribers spread over, subscriber i on the (i mod count)th:
    /// several nodes of one system, comma-separated.
    #[arg(long, value_delimiter = ',')]
    member_ws: Vec<String>,
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
    /// The name the results carry (default: the target's).
    #[arg(long)]
    label: Option<String>,
    /// Server process ids, comma-separated: the CPU figures are their sum, RSS the first's.
    #[arg(long, value_delimiter = ',')]
    server_pid: Vec<u32>,
}

impl Args {
    /// Where subscriber `i` connects.
    fn member_ws(&self, i: usize) -> &str {
        match self.member_ws.len() {
            0 => &self.ws,
            k => &self.member_ws[i % k],
        }
    }

    /// Each server process's CPU time so far (`None` for one that is gone).
    fn server_cpu_us(&self) -> Vec<Option<u64>> {
        self.server_pid.iter().map(|&p| cpu_us(p)).collect()
    }
}

/// The CPU the servers used between two readings. A process that exited in between (such as a
/// database backend of a short-lived connection) is left out; `None` when none was read twice.
fn cpu_used_us(start: &[Option<u64>], end: &[Option<u64>]) -> Option<u64> {
    start
        .iter()
        .zip(end)
        .filter_map(|(a, b)| Some(b.as_ref()?.saturating_sub(*a.as_ref()?)))
        .reduce(|x, y| x + y)
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
    let name = args
        .label
        .clone()
        .unwrap_or_else(|| format!("{:?}", args.target).to_lowercase());
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
                json!({"target": name, "fanout": n, "mode": "paced", "rate_msgs_per_s": rate, "deliveries_per_s": r.deliveries_per_s.round(), "msgs_per_s": r.msgs_per_s.round(), "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "disconnects": r.disconnects, "server_cpu_us_per_delivery": r.server_cpu_us_per_delivery.map(|c| (c * 1000.0).round() / 1000.0), "server_cores": r.server_cores.map(|c| (c * 100.0).round() / 100.0)})
            );
        }
        return Ok(());
    }
    let mut last_peak = None;
    for &n in &fanouts {
        let r = run_fanout(&args, relay.as_ref(), n, None).await?;
        println!(
            "{}",
            json!({"target": name, "fanout": n, "mode": "peak", "deliveries_per_s": r.deliveries_per_s.round(), "msgs_per_s": r.msgs_per_s.round(), "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "disconnects": r.disconnects, "server_cpu_us_per_delivery": r.server_cpu_us_per_delivery.map(|c| (c * 1000.0).round() / 1000.0), "server_cores": r.server_cores.map(|c| (c * 100.0).round() / 100.0)})
        );
        last_peak = Some((n, r.msgs_per_s));
    }
    if let (true, Some((n, peak))) = (args.half_peak, last_peak) {
        let rate = (peak / 2.0).max(1.0);
        let r = run_fanout(&args, relay.as_ref(), n, Some(rate)).await?;
        println!(
            "{}",
            json!({"target": name, "fanout": n, "mode": "half_peak", "rate_msgs_per_s": rate.round(), "deliveries_per_s": r.deliveries_per_s.round(), "msgs_per_s": r.msgs_per_s.round(), "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "disconnects": r.disconnects, "server_cpu_us_per_delivery": r.server_cpu_us_per_delivery.map(|c| (c * 1000.0).round() / 1000.0), "server_cores": r.server_cores.map(|c| (c * 100.0).round() / 100.0)})
        );
    }
    Ok(())
}
