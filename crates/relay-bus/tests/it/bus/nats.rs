//! The bus over a real nats-server: the shared scenarios between two connections (two nodes),
//! a full outgoing buffer, a server that cannot be reached at start, and closing.

use std::error::Error as _;

use bytes::Bytes;
use relay_bus::{Bus, BusError, Echo, Filter, Options, PublishError, Subject};

use super::scenarios;
use super::{cluster, node};
use crate::support::nats::{free_port, shared, NatsServer};
use crate::support::wait::{next, publish, until};

async fn connect(url: &str, name: &str, options: Options) -> Bus {
    let bus = Bus::connect(Some(url), node(name), options)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    assert!(matches!(bus, Bus::Nats(_)));
    bus
}

async fn two_nodes(url: &str) -> (Bus, Bus) {
    (
        connect(url, "a", Options::default()).await,
        connect(url, "b", Options::default()).await,
    )
}

#[tokio::test]
async fn wildcards() {
    let Some(server) = shared("nats::wildcards") else {
        return;
    };
    let (a, b) = two_nodes(&server.url()).await;
    scenarios::wildcards(&a, &b, &cluster("nats_wildcards")).await;
}

#[tokio::test]
async fn order() {
    let Some(server) = shared("nats::order") else {
        return;
    };
    let (a, b) = two_nodes(&server.url()).await;
    scenarios::order(&a, &b, &cluster("nats_order"), 20_000).await;
}

#[tokio::test]
async fn two_nodes_skip_their_echoes() {
    let Some(server) = shared("nats::two_nodes_skip_their_echoes") else {
        return;
    };
    let (a, b) = two_nodes(&server.url()).await;
    scenarios::two_nodes_skip_their_echoes(&a, &b, &cluster("nats_echoes")).await;
}

#[tokio::test]
async fn close() {
    let Some(server) = shared("nats::close") else {
        return;
    };
    let a = connect(&server.url(), "a", Options::default()).await;
    scenarios::close(&a, &cluster("nats_close")).await;
}

/// What is published just before closing still goes out: closing sends the buffer first.
#[tokio::test]
async fn close_sends_what_is_buffered() {
    let Some(server) = shared("nats::close_sends_what_is_buffered") else {
        return;
    };
    let (a, b) = two_nodes(&server.url()).await;
    let subjects = cluster("nats_close_flush");
    let subject = subjects.channel("last");
    let mut sub = b
        .subscribe(&Filter::from(subject.clone()), Echo::Skip)
        .await
        .unwrap();
    for i in 0..100u32 {
        publish(&a, &subject, i.to_be_bytes().to_vec()).await;
    }
    publish(&a, &subject, "end").await;
    a.close().await;
    let seen = until(&mut sub, "end").await;
    assert_eq!(seen.len(), 100);
}

/// A node whose NATS server cannot be reached does not start, and says why.
#[tokio::test]
async fn an_unreachable_server_fails_the_start() {
    let url = format!("nats://127.0.0.1:{}", free_port());
    let err = Bus::connect(Some(&url), node("a"), Options::default())
        .await
        .err()
        .expect("nothing listens there");
    assert!(matches!(err, BusError::Connect { .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("cannot reach NATS at {url}"));
    assert!(err.source().is_some(), "the cause is kept");

    for bad in ["", "127.0.0.1:4222", "http://127.0.0.1:4222", "nats://"] {
        let err = Bus::connect(Some(bad), node("a"), Options::default())
            .await
            .err()
            .expect("not a NATS URL");
        assert!(matches!(err, BusError::Url { .. }), "{bad:?}: {err:?}");
    }
}

/// With the server frozen, nothing leaves the node: the outgoing buffer fills and `publish`
/// says so at once instead of waiting; once the server goes on, publishing works again and the
/// other node receives it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_outgoing_buffer_is_a_typed_error() {
    let Some(server) = NatsServer::start("nats::a_full_outgoing_buffer_is_a_typed_error") else {
        return;
    };
    let options = Options {
        outgoing_capacity: 8,
        ..Options::default()
    };
    let a = connect(&server.url(), "a", options).await;
    let b = connect(&server.url(), "b", Options::default()).await;
    let subjects = cluster("nats_full");
    let subject = subjects.channel("full");
    let mut sub = b
        .subscribe(&Filter::from(subject.clone()), Echo::Skip)
        .await
        .unwrap();

    server.pause();
    // Large messages fill the socket's buffers and the client's queue quickly; the bound only
    // keeps a bus that never fills from looping for ever.
    let payload = Bytes::from(vec![b'x'; 64 * 1024]);
    let mut accepted = 0u32;
    let err = loop {
        match a.publish(&subject, payload.clone()) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 100_000, "the outgoing buffer never filled");
        tokio::task::yield_now().await;
    };
    assert_eq!(err, PublishError::Full { capacity: 8 });
    assert_eq!(
        err.to_string(),
        "the bus's outgoing buffer is full (8 messages wait for the network)"
    );
    server.resume();

    publish(&a, &subject, "after").await;
    let seen = until(&mut sub, "after").await;
    // What was accepted while the server was frozen went out once it went on.
    assert_eq!(seen.len() as u32, accepted);
    assert!(seen.iter().all(|m| m.payload == payload));
}

/// A subscription yields what another node publishes right after `subscribe` returned: the
/// server has it by then.
#[tokio::test]
async fn a_subscription_is_in_place_when_subscribe_returns() {
    let Some(server) = shared("nats::a_subscription_is_in_place_when_subscribe_returns") else {
        return;
    };
    let (a, b) = two_nodes(&server.url()).await;
    let subjects = cluster("nats_in_place");
    for i in 0..20u8 {
        let subject = subjects.channel(&format!("fresh-{i}"));
        let mut sub = b
            .subscribe(&Filter::from(subject.clone()), Echo::Skip)
            .await
            .unwrap();
        a.publish(&subject, Bytes::from(vec![i])).unwrap();
        assert_eq!(next(&mut sub).await.payload[..], [i]);
    }
}

/// `*` and `>` select the same subjects on the local bus as on a real nats-server: every
/// filter of up to two tokens over `a`, `b`, `*` (and each with `.>` after it), against every
/// subject of up to three tokens over `a`, `b`.
#[tokio::test]
async fn wildcards_match_as_the_server_does() {
    let Some(server) = shared("nats::wildcards_match_as_the_server_does") else {
        return;
    };
    let prefix = format!("wild{}", std::process::id());
    let words = |alphabet: &[&str], max: usize| {
        let mut all: Vec<String> = Vec::new();
        let mut last = vec![String::new()];
        for _ in 0..max {
            last = last
                .iter()
                .flat_map(|p| alphabet.iter().map(move |t| format!("{p}.{t}")))
                .collect();
            all.extend(last.iter().cloned());
        }
        all
    };
    let subjects: Vec<Subject> = words(&["a", "b"], 3)
        .iter()
        .map(|w| Subject::new(&format!("{prefix}{w}")).unwrap())
        .collect();
    let mut filters: Vec<Filter> = vec![Filter::new(&format!("{prefix}.>")).unwrap()];
    for w in words(&["a", "b", "*"], 2) {
        filters.push(Filter::new(&format!("{prefix}{w}")).unwrap());
        filters.push(Filter::new(&format!("{prefix}{w}.>")).unwrap());
    }

    let nats = connect(&server.url(), "a", Options::default()).await;
    let local = Bus::local(node("a"), Options::default());
    for bus in [&nats, &local] {
        let mut subs = Vec::new();
        for f in &filters {
            subs.push(bus.subscribe(f, Echo::Include).await.unwrap());
        }
        for s in &subjects {
            publish(bus, s, s.to_string()).await;
        }
        // A subject each filter matches, for the `end` that closes its list.
        for f in &filters {
            let end = f.as_str().replace(['*', '>'], "end");
            publish(bus, &Subject::new(&end).unwrap(), "end").await;
        }
        for (f, sub) in filters.iter().zip(&mut subs) {
            let got: Vec<String> = until(sub, "end")
                .await
                .into_iter()
                .map(|m| m.subject.to_string())
                .collect();
            let want: Vec<String> = subjects
                .iter()
                .filter(|s| f.matches(s))
                .map(|s| s.to_string())
                .collect();
            assert_eq!(
                got,
                want,
                "{f} on the {} bus",
                if matches!(bus, Bus::Local(_)) {
                    "local"
                } else {
                    "NATS"
                }
            );
        }
    }
}
