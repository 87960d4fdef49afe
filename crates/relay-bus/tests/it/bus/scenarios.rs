//! What every bus does alike, run by `local` on the in-process bus and by `nats` on two
//! connections to a real nats-server: `a` and `b` are two nodes.

use relay_bus::{Bus, Echo, Filter, Subject, Subjects};

use crate::support::wait::{next, publish, until};

fn subjects_of(seen: &[relay_bus::BusMessage]) -> Vec<String> {
    seen.iter().map(|m| m.subject.to_string()).collect()
}

/// `*` matches one token, `>` one or more, a plain filter its subject only; a subscription
/// sees every node's messages, its own included when it asks for them.
pub(super) async fn wildcards(a: &Bus, b: &Bus, subjects: &Subjects) {
    let deeper = Subject::new(&format!("{}.extra", subjects.channel("x"))).unwrap();
    let mut channels = b
        .subscribe(&subjects.channels(), Echo::Include)
        .await
        .unwrap();
    let mut everything = b
        .subscribe(&subjects.everything(), Echo::Include)
        .await
        .unwrap();
    let mut exact = b
        .subscribe(&Filter::from(subjects.channel("x")), Echo::Include)
        .await
        .unwrap();
    let mut logins = b
        .subscribe(&subjects.takeovers(), Echo::Include)
        .await
        .unwrap();
    let mut own = a
        .subscribe(&subjects.everything(), Echo::Include)
        .await
        .unwrap();

    let sent = [
        subjects.channel("x"),
        subjects.channel("y"),
        subjects.takeover("alice@example.org"),
        subjects.invalidate("members", "x").unwrap(),
        deeper.clone(),
        subjects.channel("a.b c"),
    ];
    for s in &sent {
        publish(a, s, s.to_string()).await;
    }
    // One publisher's messages arrive in order, so an `end` behind them closes each list.
    publish(a, &subjects.channel("x"), "end").await;
    publish(a, &subjects.takeover("end"), "end").await;

    let names = |list: &[&Subject]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let everything_seen = until(&mut everything, "end").await;
    assert_eq!(
        subjects_of(&everything_seen),
        names(&sent.iter().collect::<Vec<_>>())
    );
    for m in &everything_seen {
        assert_eq!(&m.origin, a.node());
        assert_eq!(m.payload, m.subject.to_string().as_bytes());
    }
    assert_eq!(
        subjects_of(&until(&mut channels, "end").await),
        names(&[&sent[0], &sent[1], &sent[5]])
    );
    assert_eq!(
        subjects_of(&until(&mut exact, "end").await),
        names(&[&sent[0]])
    );
    assert_eq!(
        subjects_of(&until(&mut logins, "end").await),
        names(&[&sent[2]])
    );
    assert_eq!(until(&mut own, "end").await.len(), sent.len());
}

/// One publisher's messages on one subject arrive in the order they were published.
pub(super) async fn order(a: &Bus, b: &Bus, subjects: &Subjects, count: u32) {
    let subject = subjects.channel("order");
    let mut sub = b
        .subscribe(&Filter::from(subject.clone()), Echo::Skip)
        .await
        .unwrap();
    let receiver = tokio::spawn(async move {
        let mut seen = Vec::with_capacity(count as usize);
        while seen.len() < count as usize {
            let m = next(&mut sub).await;
            seen.push(u32::from_be_bytes(m.payload[..].try_into().unwrap()));
        }
        seen
    });
    for i in 0..count {
        publish(a, &subject, i.to_be_bytes().to_vec()).await;
    }
    let seen = receiver.await.unwrap();
    assert_eq!(seen, (0..count).collect::<Vec<_>>());
}

/// Two nodes see each other's messages, each with its publisher's id, and a subscription that
/// skips echoes never yields its own node's.
pub(super) async fn two_nodes_skip_their_echoes(a: &Bus, b: &Bus, subjects: &Subjects) {
    assert_ne!(a.node(), b.node());
    let mut a_others = a.subscribe(&subjects.channels(), Echo::Skip).await.unwrap();
    let mut b_others = b.subscribe(&subjects.channels(), Echo::Skip).await.unwrap();
    let mut a_all = a
        .subscribe(&subjects.channels(), Echo::Include)
        .await
        .unwrap();

    publish(a, &subjects.channel("talk"), "from a").await;
    let m = next(&mut b_others).await;
    assert_eq!((&m.origin, &m.payload[..]), (a.node(), &b"from a"[..]));
    let m = next(&mut a_all).await;
    assert_eq!((&m.origin, &m.payload[..]), (a.node(), &b"from a"[..]));

    // Sent only after "from a" went round, so "from a" would be ahead of it on `a_others`
    // had it not been skipped.
    publish(b, &subjects.channel("talk"), "from b").await;
    let m = next(&mut a_others).await;
    assert_eq!((&m.origin, &m.payload[..]), (b.node(), &b"from b"[..]));
    let m = next(&mut a_all).await;
    assert_eq!((&m.origin, &m.payload[..]), (b.node(), &b"from b"[..]));

    // And b skips its own in the same way.
    publish(a, &subjects.channel("talk"), "again from a").await;
    let m = next(&mut b_others).await;
    assert_eq!(
        (&m.origin, &m.payload[..]),
        (a.node(), &b"again from a"[..])
    );
}

/// Closing ends the subscriptions and refuses publications.
pub(super) async fn close(a: &Bus, subjects: &Subjects) {
    let mut sub = a
        .subscribe(&subjects.everything(), Echo::Include)
        .await
        .unwrap();
    a.close().await;
    assert_eq!(*a.status().borrow(), relay_bus::Status::Closed);
    assert_eq!(
        a.publish(&subjects.channel("x"), "late".into()),
        Err(relay_bus::PublishError::Closed)
    );
    let end = tokio::time::timeout(crate::support::wait::DEADLINE, sub.next())
        .await
        .expect("the subscription ends");
    assert_eq!(end, None);
    assert!(matches!(
        a.subscribe(&subjects.everything(), Echo::Include).await,
        Err(relay_bus::BusError::Closed)
    ));
}
