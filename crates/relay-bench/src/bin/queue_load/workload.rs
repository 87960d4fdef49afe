//! The workload: C clients, each in a loop of push → pull → ack on its own queue, either as
//! fast as it can (closed loop) or at a fixed offered rate.

use std::future::Future;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::cpu::CpuProbe;

/// One client's three steps. `push` is the step whose latency is measured.
pub(crate) trait Cycle: Send + 'static {
    fn push(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Pull and ack (reserve and delete) the message just pushed.
    fn pull_ack(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// How clients pace themselves.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pace {
    /// Start the next cycle as soon as the last one ends.
    Closed,
    /// Offer this many messages per second in total, spread evenly over the clients.
    Rate(f64),
}

pub(crate) struct Outcome {
    pub messages: u64,
    pub elapsed: Duration,
    /// Push latency in microseconds. At a fixed rate it is measured from when the push was
    /// due, not when it was sent, so a stalled server cannot hide its queueing delay
    /// (coordinated omission).
    pub push_us: Histogram<u64>,
    /// CPU the server used during the measured part, when its process could be watched.
    pub server_cpu: Option<Duration>,
}

impl Outcome {
    /// Adds another run of the same workload: throughput becomes total messages over total
    /// measured time.
    pub(crate) fn absorb(&mut self, other: Outcome) -> anyhow::Result<()> {
        self.messages += other.messages;
        self.elapsed += other.elapsed;
        self.push_us.add(other.push_us)?;
        self.server_cpu = self.server_cpu.zip(other.server_cpu).map(|(a, b)| a + b);
        Ok(())
    }

    pub(crate) fn rate(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn push_ms(&self, quantile: f64) -> f64 {
        self.push_us.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// Server CPU microseconds per message (one push, one pull, one ack).
    pub(crate) fn cpu_us_per_message(&self) -> Option<f64> {
        self.server_cpu
            .map(|c| c.as_secs_f64() * 1e6 / self.messages as f64)
    }
}

/// Cycles each client does before the clock starts, so connection set-up is not measured.
pub(crate) const WARMUP: u64 = 20;

/// Runs `messages` cycles spread over `clients` made by `make(index)`, watching the server's
/// CPU with `probe` if there is one.
pub(crate) async fn run<C, F, Fut>(
    clients: usize,
    messages: u64,
    pace: Pace,
    probe: Option<CpuProbe>,
    make: F,
) -> anyhow::Result<Outcome>
where
    C: Cycle,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<C>>,
{
    let mut ready = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut c = make(i).await?;
        for _ in 0..WARMUP {
            c.push().await?;
            c.pull_ack().await?;
        }
        ready.push(c);
    }
    let cpu_before = probe.and_then(|p| p.read());
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for (i, c) in ready.into_iter().enumerate() {
        // Spread the remainder so the total is exactly `messages`.
        let share = messages / clients as u64 + u64::from((i as u64) < messages % clients as u64);
        let schedule = match pace {
            Pace::Closed => None,
            Pace::Rate(total) => {
                let interval = Duration::from_secs_f64(clients as f64 / total);
                // Stagger the clients so their pushes do not all land at once.
                let offset = interval.mul_f64(i as f64 / clients as f64);
                Some((start + offset, interval))
            }
        };
        tasks.push(tokio::spawn(client_loop(c, share, schedule)));
    }
    let mut push_us = new_histogram();
    for t in tasks {
        push_us.add(t.await??)?;
    }
    let elapsed = start.elapsed();
    let server_cpu = match (cpu_before, probe.and_then(|p| p.read())) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    Ok(Outcome {
        messages,
        elapsed,
        push_us,
        server_cpu,
    })
}

async fn client_loop<C: Cycle>(
    mut c: C,
    count: u64,
    schedule: Option<(Instant, Duration)>,
) -> anyhow::Result<Histogram<u64>> {
    let mut hist = new_histogram();
    for k in 0..count {
        let began = match schedule {
            Some((first, interval)) => {
                let due = first + interval.mul_f64(k as f64);
                tokio::time::sleep_until(due.into()).await;
                due
            }
            None => Instant::now(),
        };
        c.push().await?;
        hist.saturating_record(began.elapsed().as_micros() as u64);
        c.pull_ack().await?;
    }
    Ok(hist)
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 60 s at 3 significant figures.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}
