//! What the memory benchmarks (`queue_memory`, `channel_memory`) measure a server process with:
//! its resident memory, its data directory's size on disk, a latency histogram, and a child
//! process that is killed when the benchmark lets go of it, started and waited for.

use std::io::Read;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hdrhistogram::Histogram;

/// The resident set size of process `pid`, in bytes.
pub fn rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")?;
    Ok(kb * 1024)
}

/// Bytes the directory's files take on disk.
pub fn disk_usage(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if let Ok(m) = e.metadata() {
                total += if m.is_dir() {
                    disk_usage(&e.path())
                } else {
                    m.blocks() * 512
                };
            }
        }
    }
    total
}

/// A server process under measurement, killed when dropped.
pub struct Server {
    pub child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Latencies in microseconds, from 1 µs to a minute.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let _ = h.record((d.as_micros() as u64).max(1));
}

/// Starts `relay serve` as `cmd` says, on its embedded store whatever the environment holds,
/// its log in `log`, with `--cache-mb` when given; returns it, its address and how long it took
/// to say where it listens.
pub fn start_relay(
    mut cmd: Command,
    log: &Path,
    cache_mb: Option<u64>,
) -> anyhow::Result<(Server, SocketAddr, Duration)> {
    cmd.env_remove("RELAY_STORE")
        .env_remove("RELAY_CACHE_MB")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?);
    if let Some(mb) = cache_mb {
        cmd.args(["--cache-mb", &mb.to_string()]);
    }
    let started = Instant::now();
    let child = cmd.spawn().context("starting relay serve")?;
    let mut server = Server { child };
    loop {
        let mut text = String::new();
        std::fs::File::open(log)?.read_to_string(&mut text)?;
        if let Some(addr) = text
            .lines()
            .find_map(|l| l.split("listening on ").nth(1))
            .and_then(|a| a.trim().parse().ok())
        {
            return Ok((server, addr, started.elapsed()));
        }
        if let Some(status) = server.child.try_wait()? {
            bail!("relay serve exited ({status}): {text}");
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("relay serve did not listen within 120 s: {text}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
