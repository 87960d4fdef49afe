//! The server's resident memory, read from /proc, and the idle-connection measurement.

use std::time::Duration;

use anyhow::Context;

use super::nats::nats_socket;
use super::relay::{relay_user_socket, RelaySetup};
use super::{Args, Target};

/// CPU time (user + system) the process has used so far, in microseconds. The kernel counts it
/// in clock ticks (USER_HZ, 100 on Linux), so a run must last seconds for the figure to mean
/// much.
pub(crate) fn cpu_us(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: fields are counted after its closing paren.
    let rest = &s[s.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) * 10_000)
}

pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The server's RSS once it has stopped moving. The set-up hashes passwords (argon2, 19 MiB each)
/// on blocking threads; their memory goes back to the system only when those threads exit,
/// 10 s after their last task, so a reading taken sooner counts set-up memory as the baseline.
pub(crate) async fn settled_rss_kib(pid: u32) -> anyhow::Result<u64> {
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
pub(crate) async fn idle_rss(
    args: &Args,
    relay: Option<&RelaySetup>,
) -> anyhow::Result<Option<f64>> {
    let Some(&pid) = args.server_pid.first() else {
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
                relay_user_socket(args.member_ws(i), &r.users[i % r.users.len()].1, None).await?
            }
            _ => nats_socket(args.member_ws(i), true).await?,
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
