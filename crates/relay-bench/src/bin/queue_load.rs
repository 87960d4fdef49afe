//! Queue load generator: the same durable push → pull → ack workload against Relay's queue
//! face (HTTP keep-alive) and against beanstalkd (put → reserve → delete), at several client
//! counts, then Relay alone at a fixed offered rate of half its measured peak.
//!
//! Each client owns one queue (a Relay node id / a beanstalkd tube) and loops: push one
//! message, pull it, ack it. Throughput counts whole cycles per second. Push latency is
//! recorded per push; at the fixed rate it is measured from when the push was due. Each
//! client count runs in rounds that alternate between the two servers, and the servers' CPU
//! time per message is read from /proc, because this often runs on a machine shared with
//! other work.
//!
//! `scripts/bench-queue` starts both servers and runs this; see docs/benchmarks.md.

#[path = "queue_load/beanstalk.rs"]
mod beanstalk;
#[path = "queue_load/beanstalk_cycle.rs"]
mod beanstalk_cycle;
#[path = "queue_load/cpu.rs"]
mod cpu;
#[path = "queue_load/http.rs"]
mod http;
#[path = "queue_load/relay.rs"]
mod relay;
#[path = "queue_load/workload.rs"]
mod workload;

use std::net::SocketAddr;

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Parser;

use beanstalk_cycle::BeanstalkCycle;
use cpu::CpuProbe;
use relay::RelayCycle;
use workload::{Outcome, Pace};

#[derive(Parser)]
#[command(about = "Durable push/pull/ack load against Relay's queue face and beanstalkd")]
struct Args {
    /// Relay's base URL, such as http://127.0.0.1:7720 (plain HTTP, an IP address and port).
    #[arg(long)]
    relay_url: Option<String>,
    /// Relay's queue token.
    #[arg(
        long,
        env = "RELAY_QUEUE_TOKEN",
        hide_env_values = true,
        default_value = ""
    )]
    relay_token: String,
    /// beanstalkd's address, such as 127.0.0.1:11300.
    #[arg(long)]
    beanstalkd: Option<SocketAddr>,
    /// The bare-HTTP ceiling (`queue_ceiling`): the same three requests answered with no
    /// storage, driven like Relay in the same rounds, as http://IP:PORT.
    #[arg(long)]
    ceiling_url: Option<String>,
    /// The ceiling server's process id, for its CPU time per message.
    #[arg(long)]
    ceiling_pid: Option<u32>,
    /// Client counts to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    clients: Vec<usize>,
    /// Messages per run: one value for all client counts, or one per client count.
    #[arg(long, value_delimiter = ',', default_value = "20000")]
    messages: Vec<u64>,
    /// Payload size in bytes.
    #[arg(long, default_value_t = 100)]
    payload_size: usize,
    /// Length of the fixed-rate run at half of Relay's peak (measured at the largest client
    /// count); 0 skips it.
    #[arg(long, default_value_t = 10.0)]
    half_peak_seconds: f64,
    /// Relay's process id, to report its CPU time per message (Linux /proc).
    #[arg(long)]
    relay_pid: Option<u32>,
    /// beanstalkd's process id, likewise.
    #[arg(long)]
    beanstalkd_pid: Option<u32>,
    /// Clock ticks per second of /proc CPU times (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    clk_tck: u32,
    /// Each client count's messages are split into this many rounds, alternating Relay and
    /// beanstalkd, so that both see the same background load on a shared machine.
    #[arg(long, default_value_t = 3)]
    rounds: u64,
    /// Worker threads of the generator's runtime; on a small machine one leaves the cores to
    /// the servers under test.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

struct Row {
    clients: usize,
    relay: Option<Outcome>,
    beanstalkd: Option<Outcome>,
    ceiling: Option<Outcome>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.relay_url.is_none() && args.beanstalkd.is_none() && args.ceiling_url.is_none() {
        bail!("nothing to measure: give --relay-url, --beanstalkd and/or --ceiling-url");
    }
    if args.clients.is_empty() || args.clients.contains(&0) {
        bail!("--clients needs positive counts");
    }
    if args.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    if args.messages.len() != 1 && args.messages.len() != args.clients.len() {
        bail!("--messages takes one value or one per --clients entry");
    }
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(bench(args))
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let payload = Bytes::from(
        (0..args.payload_size)
            .map(|i| b'a' + (i % 26) as u8)
            .collect::<Vec<u8>>(),
    );
    // Fresh queue names per invocation, so a rerun against the same servers starts empty.
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as u32;

    let relay_cpu = args.relay_pid.map(|p| CpuProbe::new(p, args.clk_tck));
    let beanstalkd_cpu = args.beanstalkd_pid.map(|p| CpuProbe::new(p, args.clk_tck));
    let ceiling_cpu = args.ceiling_pid.map(|p| CpuProbe::new(p, args.clk_tck));
    let mut rows = Vec::new();
    // Numbers each run, so every run has its own node ids and tubes.
    let mut run = 0usize;
    for (i, &clients) in args.clients.iter().enumerate() {
        let messages = *args.messages.get(i).unwrap_or(&args.messages[0]);
        let mut row = Row {
            clients,
            relay: None,
            beanstalkd: None,
            ceiling: None,
        };
        for round in 0..args.rounds {
            // Spread the remainder so the rounds add up to exactly `messages`.
            let share = messages / args.rounds + u64::from(round < messages % args.rounds);
            if let Some(url) = &args.relay_url {
                eprintln!(
                    "relay: {clients} client(s), {share} messages (round {})…",
                    round + 1
                );
                let o = run_relay(
                    url,
                    &args.relay_token,
                    run_id,
                    run,
                    clients,
                    share,
                    Pace::Closed,
                    relay_cpu,
                    &payload,
                )
                .await?;
                run += 1;
                eprintln!("  {:.0} msgs/s", o.rate());
                merge(&mut row.relay, o)?;
            }
            if let Some(addr) = args.beanstalkd {
                eprintln!(
                    "beanstalkd: {clients} client(s), {share} messages (round {})…",
                    round + 1
                );
                let o = run_beanstalkd(addr, run_id, run, clients, share, beanstalkd_cpu, &payload)
                    .await?;
                run += 1;
                eprintln!("  {:.0} msgs/s", o.rate());
                merge(&mut row.beanstalkd, o)?;
            }
            if let Some(url) = &args.ceiling_url {
                eprintln!(
                    "ceiling: {clients} client(s), {share} messages (round {})…",
                    round + 1
                );
                let o = run_relay(
                    url,
                    "",
                    run_id,
                    run,
                    clients,
                    share,
                    Pace::Closed,
                    ceiling_cpu,
                    &payload,
                )
                .await?;
                run += 1;
                eprintln!("  {:.0} msgs/s", o.rate());
                merge(&mut row.ceiling, o)?;
            }
        }
        rows.push(row);
    }

    let mut half = None;
    if let (Some(url), true) = (&args.relay_url, args.half_peak_seconds > 0.0) {
        let peak_row = rows
            .iter()
            .max_by_key(|r| r.clients)
            .expect("at least one run");
        let peak = peak_row.relay.as_ref().map(Outcome::rate).unwrap_or(0.0);
        let rate = peak / 2.0;
        let messages = (rate * args.half_peak_seconds).ceil().max(1.0) as u64;
        eprintln!(
            "relay: {} clients at {rate:.0} msgs/s offered ({messages} messages)…",
            peak_row.clients
        );
        let o = run_relay(
            url,
            &args.relay_token,
            run_id,
            run,
            peak_row.clients,
            messages,
            Pace::Rate(rate),
            relay_cpu,
            &payload,
        )
        .await?;
        half = Some((peak_row.clients, rate, o));
    }

    print_report(&args, &rows, half.as_ref());
    Ok(())
}

fn merge(total: &mut Option<Outcome>, run: Outcome) -> anyhow::Result<()> {
    match total {
        Some(t) => t.absorb(run),
        None => {
            *total = Some(run);
            Ok(())
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_relay(
    url: &str,
    token: &str,
    run_id: u32,
    run: usize,
    clients: usize,
    messages: u64,
    pace: Pace,
    probe: Option<CpuProbe>,
    payload: &Bytes,
) -> anyhow::Result<Outcome> {
    let addr: SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .with_context(|| format!("--relay-url {url:?} is not http://IP:PORT"))?;
    workload::run(clients, messages, pace, probe, |c| {
        // Hex node ids, distinct per invocation, run and client.
        let node = format!("{run_id:08x}{run:04x}{c:04x}");
        let payload = payload.clone();
        async move { RelayCycle::new(addr, token, &node, payload).await }
    })
    .await
    .context("relay run")
}

async fn run_beanstalkd(
    addr: SocketAddr,
    run_id: u32,
    run: usize,
    clients: usize,
    messages: u64,
    probe: Option<CpuProbe>,
    payload: &Bytes,
) -> anyhow::Result<Outcome> {
    workload::run(clients, messages, Pace::Closed, probe, |c| {
        let tube = format!("bench-{run_id:08x}-{run}-{c}");
        let payload = payload.to_vec();
        async move { BeanstalkCycle::new(addr, &tube, payload).await }
    })
    .await
    .context("beanstalkd run")
}

fn print_report(args: &Args, rows: &[Row], half: Option<&(usize, f64, Outcome)>) {
    let dash = || "–".to_owned();
    let rate = |o: &Option<Outcome>| {
        o.as_ref()
            .map(|o| format!("{:.0}", o.rate()))
            .unwrap_or_else(dash)
    };
    let lat = |o: &Option<Outcome>| {
        o.as_ref()
            .map(|o| format!("{:.2} / {:.2}", o.push_ms(0.5), o.push_ms(0.99)))
            .unwrap_or_else(dash)
    };
    let cpu = |o: &Option<Outcome>| {
        o.as_ref()
            .and_then(Outcome::cpu_us_per_message)
            .map(|c| format!("{c:.0}"))
            .unwrap_or_else(dash)
    };
    println!(
        "push → pull → ack per message, {} B payloads, each client on its own queue; \
         {} alternating rounds per client count; latencies in ms (p50 / p99), server CPU in µs per message\n",
        args.payload_size, args.rounds
    );
    println!(
        "| clients | messages | Relay msgs/s | beanstalkd msgs/s | ratio | Relay push | beanstalkd put | Relay CPU | beanstalkd CPU |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let messages = r
            .relay
            .as_ref()
            .or(r.beanstalkd.as_ref())
            .map(|o| o.messages)
            .unwrap_or(0);
        let ratio = match (&r.relay, &r.beanstalkd) {
            (Some(a), Some(b)) => format!("{:.2}x", a.rate() / b.rate()),
            _ => dash(),
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.clients,
            messages,
            rate(&r.relay),
            rate(&r.beanstalkd),
            ratio,
            lat(&r.relay),
            lat(&r.beanstalkd),
            cpu(&r.relay),
            cpu(&r.beanstalkd),
        );
    }
    if rows.iter().any(|r| r.ceiling.is_some()) {
        println!(
            "\nAgainst the bare-HTTP ceiling (queue_ceiling: the same requests on the same HTTP \
             stack, no storage), in the same rounds:\n"
        );
        println!("| clients | Relay msgs/s | ceiling msgs/s | Relay / ceiling | ceiling CPU |");
        println!("|---:|---:|---:|---:|---:|");
        for r in rows {
            let ratio = match (&r.relay, &r.ceiling) {
                (Some(a), Some(b)) => format!("{:.0}%", 100.0 * a.rate() / b.rate()),
                _ => dash(),
            };
            println!(
                "| {} | {} | {} | {} | {} |",
                r.clients,
                rate(&r.relay),
                rate(&r.ceiling),
                ratio,
                cpu(&r.ceiling)
            );
        }
    }
    if let Some((clients, offered, o)) = half {
        println!(
            "\nRelay at half of peak: {clients} clients, {offered:.0} msgs/s offered, {:.0} msgs/s achieved over {:.1} s; \
             push latency from due time p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            o.rate(),
            o.elapsed.as_secs_f64(),
            o.push_ms(0.5),
            o.push_ms(0.99),
            o.push_us.max() as f64 / 1000.0,
        );
    }
}
