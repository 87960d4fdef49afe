//! Queue cycle on PostgreSQL: the same push → pull → ack workload as `queue_load`, against
//! Relay on PostgreSQL with one node, with several nodes (clients spread over them), and
//! against the queue a user would write by hand on the same database: autocommitted `INSERT`;
//! `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1)`; `UPDATE` to processed.
//!
//! Besides cycles per second it reports PostgreSQL transactions per request: the delta of
//! `pg_stat_database.xact_commit` over a run divided by its requests (three per cycle). Those
//! counters are flushed by each backend on its own schedule (up to 10 s after it goes idle),
//! so every reading waits for them to settle; the nodes' maintenance (a few statements a
//! second) is counted in Relay's figures.
//!
//! `scripts/bench-queue` starts everything and runs this; see docs/benchmarks.md.

// The workload modules are shared with `queue_load`, which uses parts this binary does not.
#[allow(dead_code)]
#[path = "queue_load/cpu.rs"]
mod cpu;
#[allow(dead_code)]
#[path = "queue_load/http.rs"]
mod http;
#[path = "queue_load_pg/processes.rs"]
mod processes;
#[allow(dead_code)]
#[path = "queue_load/relay.rs"]
mod relay;
#[allow(dead_code)]
#[path = "queue_load/workload.rs"]
mod workload;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Parser;
use tokio_postgres::{Client, NoTls, Statement};

use processes::{Reading, Watched};
use relay::RelayCycle;
use workload::{Cycle, Outcome, Pace, WARMUP};

#[derive(Parser)]
#[command(about = "Queue cycle: Relay on PostgreSQL (1 and N nodes) vs a plain SKIP LOCKED queue")]
struct Args {
    /// The single node's base URL (http://IP:PORT).
    #[arg(long)]
    one_node: String,
    /// The several nodes' base URLs, comma-separated; clients are spread over them.
    #[arg(long, value_delimiter = ',')]
    nodes: Vec<String>,
    /// Relay's queue token (the same on every node).
    #[arg(long, env = "RELAY_QUEUE_TOKEN", hide_env_values = true)]
    relay_token: String,
    /// The database the plain queue uses and whose statistics are read, as a libpq URL.
    #[arg(long)]
    postgres: String,
    /// Concurrent clients, each on its own queue.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Cycles per run.
    #[arg(long, default_value_t = 30000)]
    messages: u64,
    /// Runs of each contender, alternating, so all see the same background load.
    #[arg(long, default_value_t = 2)]
    rounds: u64,
    /// Payload size in bytes.
    #[arg(long, default_value_t = 100)]
    payload_size: usize,
    /// Seconds to let the statistics counters settle before each reading.
    #[arg(long, default_value_t = 11.0)]
    settle_seconds: f64,
    /// Worker threads of the generator's runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// The single node's process id, to report its CPU per cycle.
    #[arg(long)]
    one_node_pid: Option<u32>,
    /// The several nodes' process ids, comma-separated.
    #[arg(long, value_delimiter = ',')]
    node_pids: Vec<u32>,
    /// Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    clk_tck: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Contender {
    OneNode,
    Nodes,
    Plain,
}

struct Total {
    outcome: Option<Outcome>,
    commits: i64,
    /// CPU of each process group over the runs, set-up and warm-up included.
    cpu: Reading,
    /// Cycles those readings cover: the measured ones and the warm-up.
    cpu_cycles: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.clients == 0 || args.rounds == 0 || args.messages == 0 {
        bail!("--clients, --rounds and --messages must be positive");
    }
    if args.nodes.is_empty() {
        bail!("--nodes needs at least one URL");
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

fn addr_of(url: &str) -> anyhow::Result<SocketAddr> {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .with_context(|| format!("{url:?} is not http://IP:PORT"))
}

async fn connect(url: &str) -> anyhow::Result<Client> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| "connecting to --postgres")?;
    tokio::spawn(conn);
    Ok(client)
}

async fn commits(stats: &Client) -> anyhow::Result<i64> {
    Ok(stats
        .query_one(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .await?
        .get(0))
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let payload = Bytes::from(
        (0..args.payload_size)
            .map(|i| b'a' + (i % 26) as u8)
            .collect::<Vec<u8>>(),
    );
    let one = addr_of(&args.one_node)?;
    let nodes: Vec<SocketAddr> = args
        .nodes
        .iter()
        .map(|u| addr_of(u))
        .collect::<anyhow::Result<_>>()?;
    let stats = connect(&args.postgres).await?;
    stats.batch_execute(PLAIN_SCHEMA).await?;
    let backend: i32 = stats
        .query_one("SELECT pg_backend_pid()", &[])
        .await?
        .get(0);
    let watched = Watched::new(backend as u32, args.clk_tck)
        .context("PostgreSQL's processes are not visible in /proc (is it on this machine?)")?;
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as u32;
    let settle = Duration::from_secs_f64(args.settle_seconds);

    let order = [Contender::OneNode, Contender::Nodes, Contender::Plain];
    let mut totals: Vec<Total> = order
        .iter()
        .map(|_| Total {
            outcome: None,
            commits: 0,
            cpu: Reading::default(),
            cpu_cycles: 0,
        })
        .collect();
    let mut run = 0usize;
    // Each reading after a run is settled, and so the next run's starting point.
    tokio::time::sleep(settle).await;
    for round in 0..args.rounds {
        for (k, &who) in order.iter().enumerate() {
            let before = commits(&stats).await?;
            let name = label(who, nodes.len());
            let pids: &[u32] = match who {
                Contender::OneNode => args.one_node_pid.as_slice(),
                Contender::Nodes => &args.node_pids,
                Contender::Plain => &[],
            };
            let cpu_before = watched.read(pids);
            eprintln!(
                "{name}: {} clients, {} cycles (round {})…",
                args.clients,
                args.messages,
                round + 1
            );
            let o = match who {
                Contender::Plain => {
                    workload::run(args.clients, args.messages, Pace::Closed, None, |c| {
                        let (url, payload) = (args.postgres.clone(), payload.to_vec());
                        let dest = format!("{run_id:08x}{run:04x}{c:04x}");
                        async move { PlainCycle::new(&url, dest, payload).await }
                    })
                    .await?
                }
                _ => {
                    let targets = if who == Contender::OneNode {
                        vec![one]
                    } else {
                        nodes.clone()
                    };
                    let token = args.relay_token.as_str();
                    workload::run(args.clients, args.messages, Pace::Closed, None, |c| {
                        let node = format!("{run_id:08x}{run:04x}{c:04x}");
                        let (addr, payload) = (targets[c % targets.len()], payload.clone());
                        async move { RelayCycle::new(addr, token, &node, payload).await }
                    })
                    .await?
                }
            };
            run += 1;
            totals[k].cpu.add(&watched.read(pids).since(&cpu_before));
            totals[k].cpu_cycles += o.messages + WARMUP * args.clients as u64;
            eprintln!("  {:.0} cycles/s", o.rate());
            tokio::time::sleep(settle).await;
            let after = commits(&stats).await?;
            // The two readings are transactions of their own.
            totals[k].commits += after - before - 1;
            match &mut totals[k].outcome {
                Some(t) => t.absorb(o)?,
                None => totals[k].outcome = Some(o),
            }
        }
    }

    let plain_rate = totals[2].outcome.as_ref().map(Outcome::rate).unwrap_or(0.0);
    println!(
        "push → pull → ack cycles, {} clients each on its own queue, {} B payloads, {} alternating \
         rounds of {} cycles each; push latency in ms (p50 / p99)\n",
        args.clients, args.payload_size, args.rounds, args.messages
    );
    println!("| contender | cycles/s | vs plain | PostgreSQL transactions per request | push p50 / p99 |");
    println!("|---|---:|---:|---:|---:|");
    for (k, &who) in order.iter().enumerate() {
        let Some(o) = &totals[k].outcome else {
            continue;
        };
        let requests = (o.messages * 3) as f64;
        println!(
            "| {} | {:.0} | {:.2}× | {:.3} | {:.2} / {:.2} |",
            label(who, nodes.len()),
            o.rate(),
            o.rate() / plain_rate,
            totals[k].commits as f64 / requests,
            o.push_ms(0.5),
            o.push_ms(0.99),
        );
    }
    println!(
        "\nCPU per cycle in µs (user + system, from /proc; connection set-up and warm-up \
         cycles included), by process group; PostgreSQL is the whole server: every backend, \
         its background workers, and the idle nodes' maintenance\n"
    );
    println!("| contender | Relay node(s) | PostgreSQL | load generator | all |");
    println!("|---|---:|---:|---:|---:|");
    for (k, &who) in order.iter().enumerate() {
        let t = &totals[k];
        if t.cpu_cycles == 0 {
            continue;
        }
        let per = |d: Duration| d.as_secs_f64() * 1e6 / t.cpu_cycles as f64;
        let nodes_cell = if who == Contender::Plain {
            "–".to_string()
        } else if args.one_node_pid.is_none() && who == Contender::OneNode
            || args.node_pids.is_empty() && who == Contender::Nodes
        {
            "?".to_string()
        } else {
            format!("{:.0}", per(t.cpu.nodes))
        };
        println!(
            "| {} | {nodes_cell} | {:.0} | {:.0} | {:.0} |",
            label(who, nodes.len()),
            per(t.cpu.postgres),
            per(t.cpu.generator),
            per(t.cpu.nodes + t.cpu.postgres + t.cpu.generator),
        );
    }
    Ok(())
}

fn label(who: Contender, nodes: usize) -> String {
    match who {
        Contender::OneNode => "Relay on PostgreSQL, 1 node".into(),
        Contender::Nodes => format!("Relay on PostgreSQL, {nodes} nodes"),
        Contender::Plain => "plain SKIP LOCKED queue".into(),
    }
}

/// The hand-written queue: one row per message, a partial index on what is waiting.
const PLAIN_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS relay_bench_plain (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        destination text NOT NULL,
        status text NOT NULL,
        data bytea NOT NULL);
    CREATE INDEX IF NOT EXISTS relay_bench_plain_pending
        ON relay_bench_plain (destination, id) WHERE status = 'pending';";

/// One connection per client, every statement autocommitted.
struct PlainCycle {
    client: Client,
    push: Statement,
    pull: Statement,
    ack: Statement,
    dest: String,
    payload: Vec<u8>,
    pushed: i64,
}

impl PlainCycle {
    async fn new(url: &str, dest: String, payload: Vec<u8>) -> anyhow::Result<PlainCycle> {
        let client = connect(url).await?;
        let push = client
            .prepare(
                "INSERT INTO relay_bench_plain (destination, status, data) \
                 VALUES ($1, 'pending', $2) RETURNING id",
            )
            .await?;
        let pull = client
            .prepare(
                "UPDATE relay_bench_plain SET status = 'processing' WHERE id = ( \
                    SELECT id FROM relay_bench_plain WHERE destination = $1 AND status = 'pending' \
                    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, data",
            )
            .await?;
        let ack = client
            .prepare(
                "UPDATE relay_bench_plain SET status = 'processed' \
                 WHERE id = $1 AND status = 'processing'",
            )
            .await?;
        Ok(PlainCycle {
            client,
            push,
            pull,
            ack,
            dest,
            payload,
            pushed: 0,
        })
    }
}

impl Cycle for PlainCycle {
    async fn push(&mut self) -> anyhow::Result<()> {
        let row = self
            .client
            .query_one(&self.push, &[&self.dest, &self.payload])
            .await?;
        self.pushed = row.get(0);
        Ok(())
    }

    async fn pull_ack(&mut self) -> anyhow::Result<()> {
        let Some(row) = self.client.query_opt(&self.pull, &[&self.dest]).await? else {
            bail!("pulled nothing after pushing {}", self.pushed);
        };
        let id: i64 = row.get(0);
        if id != self.pushed {
            bail!("pulled {id} but pushed {}", self.pushed);
        }
        if self.client.execute(&self.ack, &[&id]).await? != 1 {
            bail!("ack of {id} changed nothing");
        }
        Ok(())
    }
}
