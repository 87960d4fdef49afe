//! The in-process bus: the shared scenarios with two nodes on one bus, and what is its own
//! (it never fills, a full subscription misses messages without holding up the publisher).

use bytes::Bytes;
use relay_bus::{Bus, Echo, Filter, Options, Status};

use super::scenarios;
use super::{cluster, node};
use crate::support::wait::next;

/// Two nodes on one in-process bus.
fn two_nodes() -> (Bus, Bus) {
    let a = Bus::local(node("a"), Options::default());
    let Bus::Local(local) = &a else {
        unreachable!()
    };
    let b = Bus::Local(local.with_node(node("b")));
    (a, b)
}

#[tokio::test]
async fn wildcards() {
    let (a, b) = two_nodes();
    scenarios::wildcards(&a, &b, &cluster("local_wildcards")).await;
}

#[tokio::test]
async fn order() {
    let (a, b) = two_nodes();
    scenarios::order(&a, &b, &cluster("local_order"), 20_000).await;
}

#[tokio::test]
async fn two_nodes_skip_their_echoes() {
    let (a, b) = two_nodes();
    scenarios::two_nodes_skip_their_echoes(&a, &b, &cluster("local_echoes")).await;
}

#[tokio::test]
async fn close() {
    let (a, b) = two_nodes();
    assert_eq!(*a.status().borrow(), Status::Connected);
    scenarios::close(&a, &cluster("local_close")).await;
    // The bus is one for every node on it.
    assert_eq!(*b.status().borrow(), Status::Closed);
}

#[tokio::test]
async fn connect_without_url_is_local() {
    let bus = Bus::connect(None, node("n1"), Options::default())
        .await
        .unwrap();
    assert!(matches!(bus, Bus::Local(_)));
    assert_eq!(bus.node().as_str(), "n1");
}

/// A subscription that is not read misses what does not fit, and the publisher goes on: the
/// other subscriptions still get everything.
#[tokio::test]
async fn a_full_subscription_misses_messages_without_blocking() {
    let options = Options {
        subscription_capacity: 4,
        ..Options::default()
    };
    let a = Bus::local(node("a"), options);
    let subjects = cluster("local_full");
    let subject = subjects.channel("full");
    let filter = Filter::from(subject.clone());
    let mut stalled = a.subscribe(&filter, Echo::Include).await.unwrap();
    let mut reader = a.subscribe(&filter, Echo::Include).await.unwrap();
    for i in 0..10u8 {
        a.publish(&subject, Bytes::from(vec![i])).unwrap();
        assert_eq!(next(&mut reader).await.payload[..], [i]);
    }
    let Bus::Local(local) = &a else {
        unreachable!()
    };
    assert_eq!(local.dropped(), 6);
    for i in 0..4u8 {
        assert_eq!(next(&mut stalled).await.payload[..], [i]);
    }
}

/// A dropped subscription is forgotten: publishing goes on without it.
#[tokio::test]
async fn a_dropped_subscription_is_forgotten() {
    let a = Bus::local(node("a"), Options::default());
    let subjects = cluster("local_drop");
    let subject = subjects.channel("x");
    let gone = a
        .subscribe(&subjects.channels(), Echo::Include)
        .await
        .unwrap();
    let mut kept = a
        .subscribe(&subjects.channels(), Echo::Include)
        .await
        .unwrap();
    drop(gone);
    for i in 0..3u8 {
        a.publish(&subject, Bytes::from(vec![i])).unwrap();
        assert_eq!(next(&mut kept).await.payload[..], [i]);
    }
    let Bus::Local(local) = &a else {
        unreachable!()
    };
    assert_eq!(local.dropped(), 0);
}
