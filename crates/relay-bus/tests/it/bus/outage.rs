//! nats-server killed and started again on the same port under two nodes: both report the
//! loss and the return through `status()`, keep their subscriptions, and what one publishes
//! after the return reaches the other again.

use std::time::Duration;

use relay_bus::{Bus, Echo, Options, Status};

use super::{cluster, node};
use crate::support::nats::NatsServer;
use crate::support::wait::{next, publish, status, until, DEADLINE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_killed_and_restarted() {
    let Some(mut server) = NatsServer::start("outage::nats_killed_and_restarted") else {
        return;
    };
    let options = Options {
        reconnect_max_delay: Duration::from_millis(200),
        ..Options::default()
    };
    let url = server.url();
    let a = Bus::connect(Some(&url), node("a"), options.clone())
        .await
        .unwrap();
    let b = Bus::connect(Some(&url), node("b"), options).await.unwrap();
    let subjects = cluster("outage");
    let subject = subjects.channel("live");
    let mut sub = b.subscribe(&subjects.channels(), Echo::Skip).await.unwrap();
    for bus in [&a, &b] {
        assert_eq!(*bus.status().borrow(), Status::Connected);
    }
    publish(&a, &subject, "before").await;
    assert_eq!(next(&mut sub).await.payload, "before");

    server.stop();
    for bus in [&a, &b] {
        status(bus, "disconnected", |s| {
            matches!(s, Status::Disconnected { .. })
        })
        .await;
    }
    // Publishing while NATS is away neither blocks nor fails as long as the buffer has room.
    a.publish(&subject, "while away".into()).unwrap();

    server.restart();
    for bus in [&a, &b] {
        status(bus, "connected again", |s| *s == Status::Connected).await;
    }

    // b's subscription was made again by its client, but a's first messages may reach the
    // server before b's renewed subscription does: a publishes until one arrives (the bus is
    // at most once), then the rest of the run must flow normally.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut attempt = 0u32;
    let first = loop {
        attempt += 1;
        publish(&a, &subject, format!("after {attempt}")).await;
        match tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
            Ok(Some(m)) if m.payload.starts_with(b"after") => break m,
            Ok(Some(_)) => {} // "while away", if the client kept it for the new connection
            Ok(None) => panic!("the subscription ended"),
            Err(_) => assert!(
                tokio::time::Instant::now() < deadline,
                "nothing from a reached b after the restart"
            ),
        }
    };
    assert_eq!(&first.origin, a.node());

    for i in 0..100u32 {
        publish(&a, &subject, format!("steady {i}")).await;
    }
    publish(&a, &subject, "end").await;
    let steady: Vec<_> = until(&mut sub, "end")
        .await
        .into_iter()
        .filter(|m| m.payload.starts_with(b"steady"))
        .map(|m| String::from_utf8(m.payload.to_vec()).unwrap())
        .collect();
    assert_eq!(
        steady,
        (0..100).map(|i| format!("steady {i}")).collect::<Vec<_>>()
    );

    // And the other way round.
    let mut back = a.subscribe(&subjects.channels(), Echo::Skip).await.unwrap();
    publish(&b, &subject, "from b").await;
    let m = next(&mut back).await;
    assert_eq!((&m.origin, &m.payload[..]), (b.node(), &b"from b"[..]));
}

/// However many attempts the reconnection takes, the log says once that the bus was lost
/// (warn) and once that it is back (info).
#[tokio::test]
async fn an_outage_is_logged_once_each_way() {
    let Some(mut server) = NatsServer::start("outage::an_outage_is_logged_once_each_way") else {
        return;
    };
    let log = crate::support::log::captured();
    let options = Options {
        reconnect_max_delay: Duration::from_millis(50),
        ..Options::default()
    };
    let url = server.url();
    let a = Bus::connect(Some(&url), node("a"), options).await.unwrap();
    server.stop();
    status(&a, "disconnected", |s| {
        matches!(s, Status::Disconnected { .. })
    })
    .await;
    // Long enough for several attempts to fail (50 ms apart at most); what is checked is the
    // log, not how long anything took.
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.restart();
    status(&a, "connected again", |s| *s == Status::Connected).await;
    a.close().await;

    // Other tests log into the same buffer; this bus's lines name its server's URL.
    let field = format!("bus={url}");
    let text = log.text();
    let ours: Vec<_> = text
        .lines()
        .filter(|l| l.split_whitespace().any(|w| w == field))
        .collect();
    let lost: Vec<_> = ours
        .iter()
        .filter(|l| l.contains("lost the connection to the bus"))
        .collect();
    let back: Vec<_> = ours
        .iter()
        .filter(|l| l.contains("the connection to the bus is back"))
        .collect();
    assert_eq!(lost.len(), 1, "{text}");
    assert!(lost[0].contains("WARN"), "{text}");
    assert_eq!(back.len(), 1, "{text}");
    assert!(
        back[0].contains("INFO") && back[0].contains("away_s="),
        "{text}"
    );
}

/// Closing while NATS is away does not wait for it: the bus gives up on its buffer and is
/// closed.
#[tokio::test]
async fn closing_while_nats_is_away_returns() {
    let Some(mut server) = NatsServer::start("outage::closing_while_nats_is_away_returns") else {
        return;
    };
    let options = Options {
        connect_timeout: Duration::from_millis(300),
        outgoing_capacity: 4,
        ..Options::default()
    };
    let a = Bus::connect(Some(&server.url()), node("a"), options)
        .await
        .unwrap();
    let subjects = cluster("outage_close");
    server.stop();
    status(&a, "disconnected", |s| {
        matches!(s, Status::Disconnected { .. })
    })
    .await;
    // Fill the client's queue and the outgoing buffer, so that nothing can move.
    let mut refused = None;
    for _ in 0..100_000 {
        if let Err(e) = a.publish(&subjects.channel("x"), "stuck".into()) {
            refused = Some(e);
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(refused, Some(relay_bus::PublishError::Full { capacity: 4 }));
    tokio::time::timeout(DEADLINE, a.close())
        .await
        .expect("close returns while NATS is away");
    assert_eq!(*a.status().borrow(), Status::Closed);
    assert_eq!(
        a.publish(&subjects.channel("x"), "late".into()),
        Err(relay_bus::PublishError::Closed)
    );
}
