//! `relay serve`'s metrics: the Prometheus recorder every crate records through, a sampler that
//! turns the queue's counts into gauges, and with `--metrics-listen` the `/metrics` listener.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use relay_queue::Queue;

/// Up to this many destinations get a series each; beyond, one series holds the total, so a
/// server with many nodes does not flood Prometheus.
const MAX_LABELLED_DESTINATIONS: usize = 100;
/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

const SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
const BATCH: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0, 8192.0,
];

/// Installs the recorder, starts the sampler and, when `listen` is set, serves `/metrics` there.
/// Must run inside the server's runtime, before the engines record anything.
pub(crate) async fn install(listen: Option<SocketAddr>, queue: Queue) -> anyhow::Result<()> {
    let handle = install_recorder(
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)?
            .set_buckets_for_metric(Matcher::Full("relay_store_commit_batch_size".into()), BATCH)?,
    )?;
    describe();
    tokio::spawn(upkeep(handle));
    tokio::spawn(sample_queue(queue));
    if let Some(addr) = listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening for metrics on {addr}"))?;
        crate::logging::announce(format_args!(
            "metrics on http://{}/metrics",
            listener.local_addr()?
        ));
        tokio::spawn(async move {
            if let Err(err) = relay_server::metrics::serve_exposition(listener).await {
                tracing::error!(
                    error = &err as &dyn std::error::Error,
                    "metrics listener stopped"
                );
            }
        });
    }
    Ok(())
}

/// For `relay init` and `relay run`, whose console lives in their own process: with
/// RELAY_METRICS_LISTEN set, that process serves its own `/metrics` (`relay_console_steps`)
/// from a thread of its own.
pub(crate) fn console_exposition() -> anyhow::Result<()> {
    let Ok(addr) = std::env::var("RELAY_METRICS_LISTEN") else {
        return Ok(());
    };
    let addr: SocketAddr = addr
        .parse()
        .with_context(|| format!("RELAY_METRICS_LISTEN is not an address: {addr:?}"))?;
    install_recorder(PrometheusBuilder::new())?;
    metrics::describe_gauge!(
        "relay_console_steps",
        "Widgets (steps, dividers, questions) on the console"
    );
    metrics::gauge!("relay_console_steps").set(0.0);
    let listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("listening for metrics on {addr}"))?;
    listener.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("relay-metrics".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(_) => return,
            };
            runtime.block_on(async move {
                if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                    let _ = relay_server::metrics::serve_exposition(listener).await;
                }
            });
        })?;
    Ok(())
}

/// Installs the process's one recorder and hands its renderer to the server's exposition.
fn install_recorder(builder: PrometheusBuilder) -> anyhow::Result<PrometheusHandle> {
    let handle = builder
        .install_recorder()
        .context("installing the metrics recorder")?;
    let render = handle.clone();
    relay_server::metrics::set_renderer(move || render.render());
    Ok(handle)
}

/// Describes every metric, and makes the counters and gauges visible at zero from the start,
/// so a scraper sees the series before the first event.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    for op in ["push", "pull", "ack"] {
        metrics::counter!("relay_queue_messages_total", "op" => op).increment(0);
    }
    metrics::gauge!("relay_channel_connections").increment(0.0);
    metrics::counter!("relay_channel_deliveries_total").increment(0);
    metrics::counter!("relay_channel_slow_consumer_disconnects_total").increment(0);
    metrics::counter!("relay_signin_throttled_total").increment(0);
    metrics::counter!("relay_signin_busy_total").increment(0);
    describe_counter!(
        "relay_signin_throttled_total",
        "Sign-ins refused unchecked (429) after too many failures for the account or address"
    );
    describe_counter!(
        "relay_signin_busy_total",
        "Password checks refused (503) because every hashing slot stayed taken"
    );
    describe_counter!(
        "relay_queue_messages_total",
        "Queue operations that succeeded, by op (push, pull, ack)"
    );
    describe_gauge!(
        "relay_queue_pending",
        "Messages waiting to be pulled (pending or scheduled)"
    );
    describe_gauge!(
        "relay_queue_processing",
        "Messages pulled and not acked yet"
    );
    describe_gauge!("relay_queue_processed", "Messages acked and still kept");
    describe_gauge!("relay_channel_connections", "Open channel WebSockets");
    describe_counter!(
        "relay_channel_deliveries_total",
        "Channel messages queued on recipients' sockets"
    );
    describe_counter!(
        "relay_channel_slow_consumer_disconnects_total",
        "Channel sockets closed because they did not read what they were sent"
    );
    describe_histogram!(
        "relay_store_commit_batch_size",
        "Requests (queue) or changes (channels) per store commit"
    );
    describe_histogram!(
        "relay_store_fsync_duration_seconds",
        Unit::Seconds,
        "Time of a synced store commit"
    );
    describe_histogram!(
        "relay_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request handling time by route"
    );
}

async fn upkeep(handle: PrometheusHandle) {
    let mut every = tokio::time::interval(UPKEEP_EVERY);
    loop {
        every.tick().await;
        handle.run_upkeep();
    }
}

const QUEUE_GAUGES: [&str; 3] = [
    "relay_queue_pending",
    "relay_queue_processing",
    "relay_queue_processed",
];

/// Reads the queue's counts into the gauges; a destination that empties is set to 0 once and
/// then left alone. Crossing `MAX_LABELLED_DESTINATIONS` either way zeroes the series of the
/// other form, so that `sum()` never adds a stale total to fresh destinations or the reverse.
async fn sample_queue(queue: Queue) {
    let mut every = tokio::time::interval(queue.counts_every());
    let mut labelled: HashSet<String> = HashSet::new();
    let mut total = false;
    loop {
        every.tick().await;
        let counts = match queue.counts().await {
            Ok(c) => c,
            Err(err) => {
                tracing::warn!(
                    error = &err as &dyn std::error::Error,
                    "reading the queue's counts failed"
                );
                continue;
            }
        };
        if counts.len() > MAX_LABELLED_DESTINATIONS {
            let (p, r, d) = counts.iter().fold((0, 0, 0), |(p, r, d), (_, c)| {
                (p + c.pending, r + c.processing, d + c.processed)
            });
            for (name, v) in QUEUE_GAUGES.into_iter().zip([p, r, d]) {
                metrics::gauge!(name).set(v as f64);
            }
            zero(labelled.drain());
            total = true;
            continue;
        }
        if std::mem::take(&mut total) {
            for name in QUEUE_GAUGES {
                metrics::gauge!(name).set(0.0);
            }
        }
        let mut now = HashSet::with_capacity(counts.len());
        for (dest, c) in counts {
            for (name, v) in QUEUE_GAUGES
                .into_iter()
                .zip([c.pending, c.processing, c.processed])
            {
                metrics::gauge!(name, "destination" => dest.clone()).set(v as f64);
            }
            now.insert(dest);
        }
        zero(labelled.difference(&now).cloned());
        labelled = now;
    }
}

/// Sets every queue gauge of these destinations to 0.
fn zero(destinations: impl Iterator<Item = String>) {
    for dest in destinations {
        for name in QUEUE_GAUGES {
            metrics::gauge!(name, "destination" => dest.clone()).set(0.0);
        }
    }
}
