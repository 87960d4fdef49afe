//! One reading of a server's metrics, and what two readings say about the time between them.
//! Kept apart from the view so that `--once --json` and the terminal show the same numbers.

use std::collections::BTreeMap;
use std::time::Instant;

use prometheus_parse::{Scrape, Value};
use serde_json::{json, Value as Json};

/// A destination's messages by state.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct QueueCounts {
    pub pending: f64,
    pub processing: f64,
    pub processed: f64,
}

/// A store's commits so far: how many, the requests they carried, and their synced time.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct StoreTotals {
    pub commits: f64,
    pub batched: f64,
    pub fsyncs: f64,
    pub fsync_seconds: f64,
}

/// The server's counters and gauges at one moment.
#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    pub at: Instant,
    /// By destination, or one `*` entry when the server reports only the total.
    pub queues: BTreeMap<String, QueueCounts>,
    /// `push`, `pull`, `ack`: operations since the server started.
    pub ops: BTreeMap<String, f64>,
    pub connections: f64,
    pub deliveries: f64,
    pub disconnects: f64,
    /// By store (`queue`, `channels`).
    pub stores: BTreeMap<String, StoreTotals>,
}

impl Snapshot {
    /// Reads the Prometheus text exposition `relay serve` gives.
    pub(crate) fn parse(text: &str, at: Instant) -> std::io::Result<Snapshot> {
        let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))?;
        let mut s = Snapshot {
            at,
            queues: BTreeMap::new(),
            ops: BTreeMap::new(),
            connections: 0.0,
            deliveries: 0.0,
            disconnects: 0.0,
            stores: BTreeMap::new(),
        };
        for sample in &scrape.samples {
            let v = match sample.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
                Value::Histogram(_) | Value::Summary(_) => continue,
            };
            let label = |name: &str| sample.labels.get(name).unwrap_or("*").to_owned();
            match sample.metric.as_str() {
                "relay_queue_pending" => {
                    s.queues.entry(label("destination")).or_default().pending = v
                }
                "relay_queue_processing" => {
                    s.queues.entry(label("destination")).or_default().processing = v
                }
                "relay_queue_processed" => {
                    s.queues.entry(label("destination")).or_default().processed = v
                }
                "relay_queue_messages_total" => {
                    s.ops.insert(label("op"), v);
                }
                "relay_channel_connections" => s.connections = v,
                "relay_channel_deliveries_total" => s.deliveries = v,
                "relay_channel_slow_consumer_disconnects_total" => s.disconnects = v,
                "relay_store_commit_batch_size_count" => {
                    s.stores.entry(label("store")).or_default().commits = v
                }
                "relay_store_commit_batch_size_sum" => {
                    s.stores.entry(label("store")).or_default().batched = v
                }
                "relay_store_fsync_duration_seconds_count" => {
                    s.stores.entry(label("store")).or_default().fsyncs = v
                }
                "relay_store_fsync_duration_seconds_sum" => {
                    s.stores.entry(label("store")).or_default().fsync_seconds = v
                }
                _ => {}
            }
        }
        // A destination that emptied stays in the exposition at zero; it is not worth a row.
        s.queues.retain(|_, c| *c != QueueCounts::default());
        Ok(s)
    }
}

/// Rates between two snapshots of the same server.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rates {
    pub seconds: f64,
    /// Operations per second, by op.
    pub ops: BTreeMap<String, f64>,
    pub deliveries: f64,
    pub disconnects: f64,
    /// By store: commits per second, mean requests per commit, mean synced commit in seconds.
    pub stores: BTreeMap<String, (f64, f64, f64)>,
}

impl Rates {
    pub(crate) fn between(before: &Snapshot, now: &Snapshot) -> Rates {
        let seconds = now.at.duration_since(before.at).as_secs_f64();
        if seconds <= 0.0 {
            return Rates::default();
        }
        // A counter that went down means the server restarted: count from zero.
        let per_sec = |a: f64, b: f64| {
            if b >= a {
                (b - a) / seconds
            } else {
                b / seconds
            }
        };
        let ops = now
            .ops
            .iter()
            .map(|(op, v)| {
                (
                    op.clone(),
                    per_sec(before.ops.get(op).copied().unwrap_or(0.0), *v),
                )
            })
            .collect();
        let stores = now
            .stores
            .iter()
            .map(|(name, t)| {
                let b = before.stores.get(name).copied().unwrap_or_default();
                let commits = t.commits - b.commits;
                let fsyncs = t.fsyncs - b.fsyncs;
                let mean = |sum: f64, n: f64| if n > 0.0 { sum / n } else { 0.0 };
                (
                    name.clone(),
                    (
                        per_sec(b.commits, t.commits),
                        mean(t.batched - b.batched, commits),
                        mean(t.fsync_seconds - b.fsync_seconds, fsyncs),
                    ),
                )
            })
            .collect();
        Rates {
            seconds,
            ops,
            deliveries: per_sec(before.deliveries, now.deliveries),
            disconnects: per_sec(before.disconnects, now.disconnects),
            stores,
        }
    }
}

/// `--once --json`: the snapshot and the rates over the interval before it.
pub(crate) fn to_json(s: &Snapshot, r: &Rates) -> Json {
    let queues: serde_json::Map<String, Json> = s
        .queues
        .iter()
        .map(|(d, c)| {
            (
                d.clone(),
                json!({"pending": c.pending, "processing": c.processing, "processed": c.processed}),
            )
        })
        .collect();
    let stores: serde_json::Map<String, Json> = r
        .stores
        .iter()
        .map(|(name, (per_sec, batch, fsync))| {
            (
                name.clone(),
                json!({"commits_per_sec": per_sec, "mean_batch": batch, "mean_fsync_ms": fsync * 1000.0}),
            )
        })
        .collect();
    json!({
        "interval_seconds": r.seconds,
        "queues": queues,
        "queue_ops_total": s.ops,
        "queue_ops_per_sec": r.ops,
        "channels": {
            "connections": s.connections,
            "deliveries_total": s.deliveries,
            "deliveries_per_sec": r.deliveries,
            "slow_consumer_disconnects_total": s.disconnects,
        },
        "stores": stores,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const BEFORE: &str = r#"# TYPE relay_queue_messages_total counter
relay_queue_messages_total{op="push"} 10
# TYPE relay_queue_pending gauge
relay_queue_pending{destination="af1"} 3
relay_queue_pending{destination="af2"} 0
# TYPE relay_store_commit_batch_size histogram
relay_store_commit_batch_size_bucket{store="queue",le="1"} 2
relay_store_commit_batch_size_bucket{store="queue",le="+Inf"} 4
relay_store_commit_batch_size_sum{store="queue"} 10
relay_store_commit_batch_size_count{store="queue"} 4
"#;

    const AFTER: &str = r#"# TYPE relay_queue_messages_total counter
relay_queue_messages_total{op="push"} 30
# TYPE relay_queue_pending gauge
relay_queue_pending{destination="af1"} 5
# TYPE relay_channel_connections gauge
relay_channel_connections 2
# TYPE relay_store_commit_batch_size histogram
relay_store_commit_batch_size_sum{store="queue"} 30
relay_store_commit_batch_size_count{store="queue"} 8
"#;

    #[test]
    fn counts_by_destination_and_rates_over_the_interval() {
        let t0 = Instant::now();
        let a = Snapshot::parse(BEFORE, t0).unwrap();
        assert_eq!(a.queues.len(), 1, "the emptied destination is left out");
        assert_eq!(a.queues["af1"].pending, 3.0);
        let b = Snapshot::parse(AFTER, t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(b.connections, 2.0);
        let r = Rates::between(&a, &b);
        assert_eq!(r.ops["push"], 10.0);
        assert_eq!(r.stores["queue"], (2.0, 5.0, 0.0));
        let j = to_json(&b, &r);
        assert_eq!(j["queues"]["af1"]["pending"], 5.0);
        assert_eq!(j["queue_ops_per_sec"]["push"], 10.0);
    }

    #[test]
    fn a_restarted_server_counts_from_zero() {
        let t0 = Instant::now();
        let a = Snapshot::parse(AFTER, t0).unwrap();
        let b = Snapshot::parse(BEFORE, t0 + Duration::from_secs(1)).unwrap();
        assert_eq!(Rates::between(&a, &b).ops["push"], 10.0);
    }
}
