//! Queue memory against stored volume: starts `relay serve` on an empty data directory, pushes
//! N messages (100 bytes each by default) to 50 destinations over HTTP, and reports its RSS
//! before and after, the RSS per stored message, the data directory's size, the time from a
//! restart after `kill -9` to `listening on`, the RSS after that restart, and pull, get and
//! list latency at that depth against pull and get at an empty queue. Then the same jobs go
//! into beanstalkd (one tube per destination), which keeps every job in memory, as the peer.
//!
//! Latency at depth is measured after the restart, so Relay's cache starts cold and the oldest
//! messages (the ones a pull takes) are read from the store, as they would be on a server that
//! has held a deep queue for a while. `scripts/bench-queue-memory` builds and runs this; see
//! docs/benchmarks.md, section "Queue memory".

#[path = "queue_load/beanstalk.rs"]
mod beanstalk;
#[path = "queue_load/http.rs"]
mod http;

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use hdrhistogram::Histogram;
use relay_bench::memory::{disk_usage, histogram, record, rss, Server};

use beanstalk::Beanstalk;
use http::Http;

#[derive(Parser)]
#[command(about = "Relay's queue memory and restart time against stored volume, beside beanstalkd")]
struct Args {
    /// The `relay` binary to measure.
    #[arg(long)]
    relay_bin: PathBuf,
    /// What to call this binary in the report (several may be compared in one run).
    #[arg(long, default_value = "relay")]
    label: String,
    /// `--cache-mb` for relay serve (left out when not given, for binaries without it).
    #[arg(long)]
    cache_mb: Option<u64>,
    /// The beanstalkd binary; an empty value skips the peer.
    #[arg(long, default_value = "beanstalkd")]
    beanstalkd_bin: String,
    /// Stored volumes to measure, comma-separated; each starts from an empty directory.
    #[arg(long, value_delimiter = ',', default_value = "200000")]
    messages: Vec<u64>,
    #[arg(long, default_value_t = 50)]
    destinations: u64,
    #[arg(long, default_value_t = 100)]
    payload_size: usize,
    /// Concurrent connections that push.
    #[arg(long, default_value_t = 32)]
    clients: u64,
    /// Requests timed per latency figure.
    #[arg(long, default_value_t = 2000)]
    samples: u64,
    /// Where the data directories go (removed afterwards).
    #[arg(long, default_value = "/tmp")]
    work_dir: PathBuf,
}

const TOKEN: &str = "queue-memory-bench-token";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!(
        "machine: {} cores; payload {} B; {} destinations; {} pushing connections; {} samples per latency",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.payload_size,
        args.destinations,
        args.clients,
        args.samples
    );
    for &n in &args.messages {
        let dir = tempdir(&args.work_dir, &format!("relay-{n}"))?;
        let relay = runtime.block_on(relay_run(&args, n, &dir));
        let _ = std::fs::remove_dir_all(&dir);
        let relay = relay?;
        let peer = if args.beanstalkd_bin.is_empty() {
            None
        } else {
            let dir = tempdir(&args.work_dir, &format!("beanstalkd-{n}"))?;
            let b = runtime.block_on(beanstalkd_run(&args, n, &dir));
            let _ = std::fs::remove_dir_all(&dir);
            Some(b?)
        };
        report(&args, n, &relay, peer.as_ref());
    }
    Ok(())
}

struct Figures {
    rss_before: u64,
    rss_after: u64,
    fill_secs: f64,
    data_bytes: u64,
    restart: Duration,
    /// From Relay's log: the index rebuild's own time, and the journal changes replayed first.
    rebuild_ms: Option<u64>,
    replayed: Option<u64>,
    /// From Relay's log: what its index says it holds after the restart, and by structure.
    index_bytes: Option<u64>,
    index_parts: Option<String>,
    rss_restarted: u64,
    rss_after_probes: u64,
    empty_pull: Histogram<u64>,
    empty_get: Option<Histogram<u64>>,
    deep_pull: Histogram<u64>,
    deep_get: Option<Histogram<u64>>,
    deep_list: Option<Histogram<u64>>,
}

fn report(args: &Args, n: u64, r: &Figures, peer: Option<&Figures>) {
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    let per = |f: &Figures| (f.rss_after.saturating_sub(f.rss_before)) as f64 / n as f64;
    let ms = |h: &Histogram<u64>| {
        format!(
            "{:.2} / {:.2}",
            h.value_at_quantile(0.5) as f64 / 1000.0,
            h.value_at_quantile(0.99) as f64 / 1000.0
        )
    };
    let opt = |h: &Option<Histogram<u64>>| h.as_ref().map_or("-".to_string(), ms);
    println!();
    println!("### {n} messages stored");
    println!();
    println!(
        "| | {} | beanstalkd | ratio |",
        args.label.replace('|', "/")
    );
    println!("|---|---:|---:|---:|");
    let row = |what: &str, a: String, b: Option<String>, ratio: Option<f64>| {
        println!(
            "| {what} | {a} | {} | {} |",
            b.unwrap_or_else(|| "-".into()),
            ratio.map_or("-".into(), |r| format!("{r:.2}x"))
        );
    };
    let ratio = |a: f64, b: f64| (b > 0.0).then(|| a / b);
    row(
        "RSS empty, MiB",
        format!("{:.1}", mib(r.rss_before)),
        peer.map(|p| format!("{:.1}", mib(p.rss_before))),
        None,
    );
    row(
        "RSS stored, MiB",
        format!("{:.1}", mib(r.rss_after)),
        peer.map(|p| format!("{:.1}", mib(p.rss_after))),
        peer.and_then(|p| ratio(r.rss_after as f64, p.rss_after as f64)),
    );
    row(
        "RSS growth per stored message, bytes",
        format!("{:.0}", per(r)),
        peer.map(|p| format!("{:.0}", per(p))),
        peer.and_then(|p| ratio(per(r), per(p))),
    );
    row(
        "data on disk, MiB",
        format!("{:.1}", mib(r.data_bytes)),
        peer.map(|p| format!("{:.1}", mib(p.data_bytes))),
        peer.and_then(|p| ratio(r.data_bytes as f64, p.data_bytes as f64)),
    );
    row(
        "fill, messages/s",
        format!("{:.0}", n as f64 / r.fill_secs),
        peer.map(|p| format!("{:.0}", n as f64 / p.fill_secs)),
        peer.and_then(|p| ratio(p.fill_secs, r.fill_secs)),
    );
    row(
        "restart after kill -9 to serving (relay: listening; beanstalkd: first answer), ms",
        format!("{:.0}", r.restart.as_secs_f64() * 1000.0),
        peer.map(|p| format!("{:.0}", p.restart.as_secs_f64() * 1000.0)),
        peer.and_then(|p| ratio(r.restart.as_secs_f64(), p.restart.as_secs_f64())),
    );
    let num = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    row(
        "of which the index rebuild, ms",
        num(r.rebuild_ms),
        None,
        None,
    );
    row(
        "index heap after the restart (its own count), bytes per stored message",
        r.index_bytes
            .map_or("-".into(), |b| format!("{:.1}", b as f64 / n as f64)),
        None,
        None,
    );
    if let Some(parts) = &r.index_parts {
        row("of which, bytes", parts.replace(',', ", "), None, None);
    }
    row(
        "journal changes replayed at the restart",
        num(r.replayed),
        None,
        None,
    );
    row(
        "RSS after the restart, MiB",
        format!("{:.1}", mib(r.rss_restarted)),
        peer.map(|p| format!("{:.1}", mib(p.rss_restarted))),
        peer.and_then(|p| ratio(r.rss_restarted as f64, p.rss_restarted as f64)),
    );
    row(
        "RSS after the probes below, MiB",
        format!("{:.1}", mib(r.rss_after_probes)),
        peer.map(|p| format!("{:.1}", mib(p.rss_after_probes))),
        None,
    );
    row(
        "pull (reserve) at an empty queue, ms p50 / p99",
        ms(&r.empty_pull),
        peer.map(|p| ms(&p.empty_pull)),
        None,
    );
    row(
        "pull (reserve) at depth, ms p50 / p99",
        ms(&r.deep_pull),
        peer.map(|p| ms(&p.deep_pull)),
        None,
    );
    row(
        "get at an empty queue, ms p50 / p99",
        opt(&r.empty_get),
        peer.map(|p| opt(&p.empty_get)),
        None,
    );
    row(
        "get at depth (random stored message), ms p50 / p99",
        opt(&r.deep_get),
        peer.map(|p| opt(&p.deep_get)),
        None,
    );
    row(
        "list of a destination's oldest 100 at depth, ms p50 / p99",
        opt(&r.deep_list),
        None,
        None,
    );
}

fn tempdir(base: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let dir = base.join(format!("queue-memory-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Starts relay serve on `dir`; returns it, its address and how long it took to listen.
fn start_relay(args: &Args, dir: &Path) -> anyhow::Result<(Server, SocketAddr, Duration)> {
    let log = dir.join("relay.log");
    let mut cmd = Command::new(&args.relay_bin);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--queue-token", TOKEN])
        .arg("--data")
        .arg(dir.join("data"))
        // The fill is about memory, not sync rate: relaxed lets it go at the HTTP layer's pace.
        .args(["--durability", "relaxed"]);
    relay_bench::memory::start_relay(cmd, &log, args.cache_mb)
}

fn destination(d: u64) -> String {
    format!("de57{d:04x}")
}

fn source(i: u64) -> String {
    format!("5bc0{:04x}", i % 7)
}

fn payload(size: usize, i: u64) -> Vec<u8> {
    let mut p = format!("message {i:012} ").into_bytes();
    p.resize(size, b'x');
    p
}

struct RelayClient {
    http: Http,
    host: SocketAddr,
}

impl RelayClient {
    async fn connect(addr: SocketAddr) -> anyhow::Result<RelayClient> {
        Ok(RelayClient {
            http: Http::connect(addr).await?,
            host: addr,
        })
    }

    async fn request(
        &mut self,
        head: &str,
        node: &str,
        extra: &str,
        body: &[u8],
    ) -> anyhow::Result<http::Response> {
        let mut req = format!(
            "{head} HTTP/1.1\r\nHost: {}\r\nAuthorization: {TOKEN}\r\nScirocco-Node-Source: {node}\r\n{extra}Content-Length: {}\r\n\r\n",
            self.host,
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        self.http.call(&req).await
    }

    async fn push(&mut self, from: &str, to: &str, body: &[u8]) -> anyhow::Result<String> {
        let extra = format!(
            "Scirocco-Node-Destination: {to}\r\nContent-Type: application/octet-stream\r\n"
        );
        let resp = self
            .request("POST /messageQueue", from, &extra, body)
            .await?;
        if resp.status != 201 {
            bail!("push answered {}", resp.status);
        }
        Ok(resp
            .header("Scirocco-Id")
            .context("push without Scirocco-Id")?
            .to_owned())
    }

    /// Pull then ack; returns the pull's time.
    async fn pull_ack(&mut self, node: &str) -> anyhow::Result<Duration> {
        let t = Instant::now();
        let resp = self.request("GET /messageQueue", node, "", b"").await?;
        let took = t.elapsed();
        if resp.status != 200 {
            bail!("pull answered {}", resp.status);
        }
        let id = resp
            .header("Scirocco-Id")
            .context("pull without Scirocco-Id")?
            .to_owned();
        let resp = self
            .request(&format!("PATCH /messageQueue/{id}/ack"), node, "", b"")
            .await?;
        if resp.status != 200 {
            bail!("ack answered {}", resp.status);
        }
        Ok(took)
    }

    async fn get(&mut self, node: &str, id: &str) -> anyhow::Result<Duration> {
        let t = Instant::now();
        let resp = self
            .request(&format!("GET /messages/{id}"), node, "", b"")
            .await?;
        let took = t.elapsed();
        if resp.status != 200 {
            bail!("get {id} answered {}", resp.status);
        }
        Ok(took)
    }

    /// A list answer is streamed (chunked), which the keep-alive client does not read: each
    /// list goes on a connection of its own that the server closes, and its time includes the
    /// connect.
    async fn list(&mut self, node: &str) -> anyhow::Result<Duration> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let t = Instant::now();
        let mut stream = tokio::net::TcpStream::connect(self.host).await?;
        let req = format!(
            "GET /messages HTTP/1.1\r\nHost: {}\r\nAuthorization: {TOKEN}\r\nScirocco-Node-Source: {node}\r\nConnection: close\r\n\r\n",
            self.host
        );
        stream.write_all(req.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        let took = t.elapsed();
        if !answer.starts_with(b"HTTP/1.1 200") || !answer.ends_with(b"0\r\n\r\n") {
            bail!(
                "list answered {:?}",
                String::from_utf8_lossy(&answer[..answer.len().min(200)])
            );
        }
        Ok(took)
    }
}

/// A small deterministic generator, so both servers see the same picks.
struct Picks(u64);

impl Picks {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % below as u64) as usize
    }
}

async fn relay_run(args: &Args, n: u64, dir: &Path) -> anyhow::Result<Figures> {
    let (server, addr, _) = start_relay(args, dir)?;
    let pid = server.child.id();

    // An empty queue: each sample pushes one message and takes it straight back. Its processed
    // messages stay, and count in the RSS before the fill.
    let mut c = RelayClient::connect(addr).await?;
    let (mut empty_pull, mut empty_get) = (histogram(), histogram());
    let probe = "9a0be000";
    for i in 0..args.samples {
        let id = c.push(probe, probe, &payload(args.payload_size, i)).await?;
        record(&mut empty_get, c.get(probe, &id).await?);
        record(&mut empty_pull, c.pull_ack(probe).await?);
    }
    drop(c);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss(pid)?;

    eprintln!("{}: pushing {n} messages…", args.label);
    let started = Instant::now();
    let local = tokio::task::LocalSet::new();
    let kept = local
        .run_until(async move {
            let mut tasks = Vec::new();
            for k in 0..args.clients {
                let (clients, size, dests) = (args.clients, args.payload_size, args.destinations);
                tasks.push(tokio::task::spawn_local(async move {
                    let mut c = RelayClient::connect(addr).await?;
                    let mut kept = Vec::new();
                    let mut i = k;
                    while i < n {
                        let from = source(i);
                        let id = c
                            .push(&from, &destination(i % dests), &payload(size, i))
                            .await?;
                        if i % 97 == 0 {
                            kept.push((from, id));
                        }
                        i += clients;
                    }
                    anyhow::Ok(kept)
                }));
            }
            let mut kept = Vec::new();
            for t in tasks {
                kept.extend(t.await??);
            }
            anyhow::Ok(kept)
        })
        .await?;
    let fill_secs = started.elapsed().as_secs_f64();
    // Relaxed durability syncs within 100 ms; give the writer and the allocator a moment.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = rss(pid)?;
    let data_bytes = disk_usage(&dir.join("data"));

    // What a kill -9 leaves, started again.
    drop(server);
    let (server, addr, restart) = start_relay(args, dir)?;
    let pid = server.child.id();
    let rss_restarted = rss(pid)?;
    let log = std::fs::read_to_string(dir.join("relay.log")).unwrap_or_default();
    let rebuild_ms = logged(&log, "queue store loaded", "took_ms=");
    let replayed = logged(&log, "queue journal replayed", "changes=").or(Some(0));
    let index_bytes = logged(&log, "queue store loaded", "index_bytes=");
    let index_parts = logged_text(&log, "queue store loaded", "index_parts=");

    let mut c = RelayClient::connect(addr).await?;
    let mut picks = Picks(n);
    let (mut deep_get, mut deep_list, mut deep_pull) = (histogram(), histogram(), histogram());
    for _ in 0..args.samples {
        let (from, id) = &kept[picks.next(kept.len())];
        record(&mut deep_get, c.get(from, id).await?);
    }
    for s in 0..args.samples.min(500) {
        let d = destination(s % args.destinations);
        record(&mut deep_list, c.list(&d).await?);
    }
    for s in 0..args.samples {
        let d = destination(s % args.destinations);
        record(&mut deep_pull, c.pull_ack(&d).await?);
    }
    let rss_after_probes = rss(pid)?;
    drop(server);
    Ok(Figures {
        rss_before,
        rss_after,
        fill_secs,
        data_bytes,
        restart,
        rebuild_ms,
        replayed,
        index_bytes,
        index_parts,
        rss_restarted,
        rss_after_probes,
        empty_pull,
        empty_get: Some(empty_get),
        deep_pull,
        deep_get: Some(deep_get),
        deep_list: Some(deep_list),
    })
}

/// A number logged as `key` on the line with `message`.
fn logged(log: &str, message: &str, key: &str) -> Option<u64> {
    let line = log.lines().find(|l| l.contains(message))?;
    let line = without_colours(line);
    let rest = &line[line.find(key)? + key.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The text logged as `key` on the line with `message`, up to the next space.
fn logged_text(log: &str, message: &str, key: &str) -> Option<String> {
    let line = log.lines().find(|l| l.contains(message))?;
    let line = without_colours(line);
    let rest = &line[line.find(key)? + key.len()..];
    Some(rest.split_whitespace().next()?.to_string())
}

/// The line without its ANSI colour sequences (`ESC [ … m`), which the text log carries.
fn without_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts beanstalkd with a binlog in `dir` (synced every 100 ms, as relay's relaxed mode);
/// returns it and how long it took to accept a connection.
fn start_beanstalkd(args: &Args, dir: &Path, port: u16) -> anyhow::Result<(Server, Duration)> {
    let started = Instant::now();
    let child = Command::new(&args.beanstalkd_bin)
        .args([
            "-l",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-f",
            "100",
            "-b",
        ])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting beanstalkd")?;
    let mut server = Server { child };
    loop {
        // beanstalkd binds its socket before it replays the binlog, so a connection alone says
        // nothing: ready is when a command is answered.
        if answers(port) {
            return Ok((server, started.elapsed()));
        }
        if let Some(status) = server.child.try_wait()? {
            bail!("beanstalkd exited ({status})");
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("beanstalkd did not listen within 120 s");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether beanstalkd answers `list-tubes` within a minute.
fn answers(port: u16) -> bool {
    use std::io::Write;
    let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    let mut reply = [0u8; 3];
    conn.write_all(b"list-tubes\r\n").is_ok()
        && conn.read_exact(&mut reply).is_ok()
        && &reply == b"OK "
}

fn tube(d: u64) -> String {
    format!("bench-{d}")
}

async fn beanstalkd_run(args: &Args, n: u64, dir: &Path) -> anyhow::Result<Figures> {
    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let (server, _) = start_beanstalkd(args, dir, port)?;
    let pid = server.child.id();

    let mut probe = Beanstalk::connect(addr, "probe").await?;
    let mut empty_pull = histogram();
    for i in 0..args.samples {
        probe.put(&payload(args.payload_size, i)).await?;
        let t = Instant::now();
        let (id, _) = probe.reserve().await?;
        record(&mut empty_pull, t.elapsed());
        probe.delete(id).await?;
    }
    drop(probe);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss(pid)?;

    eprintln!("beanstalkd: putting {n} jobs…");
    let started = Instant::now();
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let mut tasks = Vec::new();
            // Each client owns some tubes, one connection each, so that there are as many
            // connections as tubes at most, not clients times tubes.
            let clients = args.clients.min(args.destinations);
            for k in 0..clients {
                let (size, dests) = (args.payload_size, args.destinations);
                tasks.push(tokio::task::spawn_local(async move {
                    let mut conns: Vec<Option<Beanstalk>> = (0..dests).map(|_| None).collect();
                    for i in (0..n).filter(|i| (i % dests) % clients == k) {
                        let d = i % dests;
                        if conns[d as usize].is_none() {
                            conns[d as usize] = Some(Beanstalk::connect(addr, &tube(d)).await?);
                        }
                        if let Some(b) = conns[d as usize].as_mut() {
                            b.put(&payload(size, i)).await?;
                        }
                    }
                    anyhow::Ok(())
                }));
            }
            for t in tasks {
                t.await??;
            }
            anyhow::Ok(())
        })
        .await?;
    let fill_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = rss(pid)?;
    let data_bytes = disk_usage(dir);

    drop(server);
    let (server, restart) = start_beanstalkd(args, dir, port)?;
    let pid = server.child.id();
    let rss_restarted = rss(pid)?;
    let mut conns = Vec::new();
    for d in 0..args.destinations {
        conns.push(Beanstalk::connect(addr, &tube(d)).await?);
    }
    let mut deep_pull = histogram();
    for s in 0..args.samples {
        let b = &mut conns[(s % args.destinations) as usize];
        let t = Instant::now();
        let (id, _) = b.reserve().await?;
        record(&mut deep_pull, t.elapsed());
        b.delete(id).await?;
    }
    let rss_after_probes = rss(pid)?;
    drop(server);
    Ok(Figures {
        rss_before,
        rss_after,
        fill_secs,
        data_bytes,
        restart,
        rebuild_ms: None,
        replayed: None,
        index_bytes: None,
        index_parts: None,
        rss_restarted,
        rss_after_probes,
        empty_pull,
        empty_get: None,
        deep_pull,
        deep_get: None,
        deep_list: None,
    })
}
