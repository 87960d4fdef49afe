//! `--metrics-listen`: the Prometheus exposition after real queue and channel traffic, read
//! with a Prometheus text parser, and the token-guarded copy `relay top` reads.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use prometheus_parse::{Scrape, Value};
use relay_client::channel::ChannelHttp;
use serde_json::json;

use crate::support::queue_http::{node, Request};
use crate::support::server::{free_port, Options, Server};
use crate::support::ws::Ws;

/// Every sample as `name{k=v,…}` (labels sorted) -> value; histograms by their `_count`.
fn scrape(text: &str) -> HashMap<String, f64> {
    let s = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let mut out = HashMap::new();
    for sample in s.samples {
        let mut labels: Vec<(String, String)> = sample
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.sort();
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let key = format!("{}{{{}}}", sample.metric, labels.join(","));
        let v = match sample.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            Value::Histogram(buckets) => {
                assert!(!buckets.is_empty(), "{key} has buckets");
                buckets.iter().map(|b| b.count).fold(0.0, f64::max)
            }
            Value::Summary(_) => panic!("{key} is a summary, not a histogram"),
        };
        out.insert(key, v);
    }
    out
}

fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let r = Request::new(addr, "GET", path).send();
    (r.status, r.text())
}

#[test]
fn queue_and_channel_work_shows_in_the_exposition() {
    let port = free_port();
    let s =
        Server::with(Options::default().args(&["--metrics-listen", &format!("127.0.0.1:{port}")]));
    let metrics_addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();

    let (from, to) = (node(), node());
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(s.push(&from, &to, &json!({"n": i})).id());
    }
    for _ in 0..2 {
        assert_eq!(s.pull(&to).status, 200);
    }
    assert_eq!(s.ack(&to, &ids[0]).status, 200);
    // An ack of an unknown id is not counted.
    assert_eq!(s.ack(&to, "0123456789abcdef01234567").status, 404);

    // A user in a channel without a service: a message_up reaches the group as message_down.
    s.add_account("a@example.com", "pw-a");
    s.add_account("b@example.com", "pw-b");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (ch, group, ta, tb) = rt.block_on(async {
        let mut a = ChannelHttp::new(&s.http()).unwrap();
        a.sign_in("a@example.com", "pw-a").await.unwrap();
        let mut b = ChannelHttp::new(&s.http()).unwrap();
        b.sign_in("b@example.com", "pw-b").await.unwrap();
        let ids = [a.user_id().await.unwrap(), b.user_id().await.unwrap()];
        let ch = a.create_channel("room", "").await.unwrap();
        let group = a.create_service_group(&ids).await.unwrap();
        (
            ch,
            group,
            a.access_token.clone().unwrap(),
            b.access_token.clone().unwrap(),
        )
    });
    let (wa, wb) = (Ws::open(&s), Ws::open(&s));
    for (ws, token) in [(&wa, &ta), (&wb, &tb)] {
        assert_eq!(ws.login_user(token)["status"], true);
        let join = ws.request(json!({"type": "action", "body": {"subtype": "join_channel", "channel_id": ch, "context": {}}}));
        assert_eq!(join["status"], true, "{join}");
    }
    let sent = wa.request(json!({"type": "message_up", "body": {"subtype": "text", "channel_id": ch, "content": {"text": "hi"}, "recipients": group, "timestamp": 1, "context": {}}}));
    assert_eq!(sent["status"], true, "{sent}");
    wb.wait("the message", |f| f["type"] == "message_down");

    // The queue's gauges are sampled once a second.
    let deadline = Instant::now() + Duration::from_secs(10);
    let m = loop {
        let (status, text) = get(metrics_addr, "/metrics");
        assert_eq!(status, 200, "{text}");
        let m = scrape(&text);
        let pending = format!("relay_queue_pending{{destination={to}}}");
        if m.get(&pending) == Some(&1.0) || Instant::now() > deadline {
            break m;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let at = |k: &str| *m.get(k).unwrap_or_else(|| panic!("no {k} in {m:#?}"));
    assert_eq!(at("relay_queue_messages_total{op=push}"), 3.0);
    assert_eq!(at("relay_queue_messages_total{op=pull}"), 2.0);
    assert_eq!(at("relay_queue_messages_total{op=ack}"), 1.0);
    assert_eq!(at(&format!("relay_queue_pending{{destination={to}}}")), 1.0);
    assert_eq!(
        at(&format!("relay_queue_processing{{destination={to}}}")),
        1.0
    );
    assert_eq!(
        at(&format!("relay_queue_processed{{destination={to}}}")),
        1.0
    );
    assert_eq!(at("relay_channel_connections{}"), 2.0);
    // The message goes to both members of the group, its sender too.
    assert_eq!(at("relay_channel_deliveries_total{}"), 2.0);
    assert_eq!(at("relay_channel_slow_consumer_disconnects_total{}"), 0.0);
    assert_eq!(
        at("relay_http_request_duration_seconds{route=queue_push}"),
        3.0
    );
    assert_eq!(
        at("relay_http_request_duration_seconds{route=queue_ack}"),
        2.0
    );
    assert!(at("relay_http_request_duration_seconds{route=channel_api}") >= 6.0);
    assert!(at("relay_store_commit_batch_size{store=queue}") >= 1.0);
    assert!(at("relay_store_fsync_duration_seconds{store=channels}") >= 1.0);

    // Every series the Grafana dashboard in docs/ draws is one the server exposes.
    let dashboard = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/grafana-dashboard.json"),
    )
    .unwrap();
    let exposed = get(metrics_addr, "/metrics").1;
    for word in dashboard.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.starts_with("relay_") {
            assert!(
                exposed.contains(word),
                "the dashboard's {word} is not exposed"
            );
        }
    }

    // The same text on the main listener, for the queue token only.
    assert_eq!(s.anon("GET", "/_relay/metrics").send().status, 403);
    let guarded = s.req("GET", "/_relay/metrics").send();
    assert_eq!(guarded.status, 200);
    assert!(guarded.text().contains("relay_queue_messages_total"));
    // The metrics listener serves nothing else.
    assert_eq!(get(metrics_addr, "/").0, 404);
    drop((wa, wb));
}

#[test]
fn a_metrics_address_in_use_stops_the_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = Server::try_with(Options::default().args(&["--metrics-listen", &addr]))
        .err()
        .expect("the start fails");
    assert!(
        err.contains(&format!("listening for metrics on {addr}")),
        "{err}"
    );
}
