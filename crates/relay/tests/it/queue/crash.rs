//! Crash safety: with the default `--durability immediate`, a push that got its 201 survives a
//! SIGKILL of the server, and is delivered after the restart (at least once, none lost).

use std::collections::HashSet;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::pushers::push_until_killed;
use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::json;

const PUSHERS: usize = 32;
const DESTINATIONS: usize = 4;
/// Pushes acknowledged before the kill; enough that the kill lands mid-stream.
const ACKED_BEFORE_KILL: usize = 300;
/// Only keeps a stalled server from hanging the test.
const DEADLINE: Duration = Duration::from_secs(120);

fn dest(i: usize) -> String {
    format!("d{}", i % DESTINATIONS)
}

#[test]
fn sigkill_mid_stream_loses_no_acknowledged_push() {
    let mut s = Server::start();
    let acked = push_until_killed(&mut s, PUSHERS, ACKED_BEFORE_KILL, DEADLINE, |t| {
        (format!("a{t}"), dest(t))
    });
    assert!(
        acked.len() >= PUSHERS,
        "only {} pushes were acknowledged before the kill",
        acked.len()
    );

    s.restart();
    for (id, (source, body)) in &acked {
        let r = s.get(source, id);
        assert_eq!(
            r.status,
            200,
            "acknowledged push {id} lost after SIGKILL; server log:\n{}",
            s.log()
        );
        assert_eq!(&r.json(), body, "payload of {id}");
    }

    let mut delivered = HashSet::new();
    for d in 0..DESTINATIONS {
        loop {
            let r = s.pull(&dest(d));
            if r.status == 204 {
                break;
            }
            let r = r.expect(200);
            assert!(delivered.insert(r.id()), "{} delivered twice", r.id());
            s.ack(&dest(d), &r.id()).expect(200);
        }
    }
    let missing: Vec<&String> = acked.keys().filter(|id| !delivered.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged pushes never delivered, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

/// `--durability immediate` promises every answered change survives a crash of the process, not
/// only pushes: pulls (written before their reply, synced soon after), acks, updates and deletes.
#[test]
fn sigkill_keeps_every_answered_change() {
    let mut s = Server::start();
    let ids: Vec<String> = (0..12)
        .map(|i| s.push("a1", "b2", &json!({"i": i})).id())
        .collect();
    for _ in 0..8 {
        s.pull("b2").expect(200);
    }
    for id in &ids[..4] {
        s.ack("b2", id).expect(200);
    }
    s.req("PATCH", &format!("/messages/{}", ids[10]))
        .from("a1")
        .json(&json!({"updated": true}))
        .send()
        .expect(200);
    s.req("DELETE", &format!("/messages/{}", ids[11]))
        .from("a1")
        .send()
        .expect(200);
    // Everything above was answered; nothing may be lost now.
    s.kill9();
    s.restart();
    let status = |id: &str| s.status_of("a1", id);
    for id in &ids[..4] {
        assert_eq!(status(id), "processed", "ack of {id} lost");
    }
    for id in &ids[4..8] {
        assert_eq!(status(id), "processing", "pull of {id} lost");
    }
    assert_eq!(status(&ids[8]), "pending");
    assert_eq!(
        s.get("a1", &ids[10]).expect(200).json(),
        json!({"updated": true}),
        "update lost"
    );
    s.get("a1", &ids[11]).expect(404);
    assert_eq!(s.pull("b2").expect(200).id(), ids[8]);
}

#[test]
fn sigkill_during_concurrent_pulls_keeps_every_delivery() {
    let mut s = Server::start();
    let pushed: HashSet<String> = (0..200)
        .map(|i| s.push("a1", "b2", &json!({"i": i})).id())
        .collect();
    let delivered: Arc<Mutex<Vec<String>>> = Arc::default();
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (addr, token, delivered) = (s.addr, s.token.clone(), delivered.clone());
            std::thread::spawn(move || loop {
                let r = Request::new(addr, "GET", "/messageQueue")
                    .header("Authorization", &token)
                    .from("b2")
                    .try_send();
                match r {
                    Ok(r) if r.status == 200 => delivered.lock().unwrap().push(r.id()),
                    Ok(r) if r.status == 204 => return,
                    Ok(r) => panic!("pull failed: {}", r.describe()),
                    Err(_) => return,
                }
            })
        })
        .collect();
    let start = Instant::now();
    while delivered.lock().unwrap().len() < 50 && start.elapsed() < DEADLINE {
        std::thread::sleep(Duration::from_millis(2));
    }
    s.kill9();
    for w in workers {
        w.join().expect("puller panicked");
    }
    let delivered = delivered.lock().unwrap().clone();
    s.restart();
    // Every answered pull is still processing; the rest are pending and come out in order.
    for id in &delivered {
        assert_eq!(
            s.status_of("a1", id),
            "processing",
            "answered pull of {id} lost"
        );
    }
    let mut rest = HashSet::new();
    loop {
        let r = s.pull("b2");
        if r.status == 204 {
            break;
        }
        rest.insert(r.expect(200).id());
    }
    let mut all: HashSet<String> = delivered.iter().cloned().collect();
    assert_eq!(all.len(), delivered.len(), "a message was delivered twice");
    // Pulls in flight at the kill may have been committed without an answer: those show up
    // as processing, neither pending nor delivered. None may be pending twice or vanish.
    assert!(
        all.is_disjoint(&rest),
        "a message answered as pulled came back as pending"
    );
    all.extend(rest);
    for id in pushed.difference(&all) {
        assert_eq!(
            s.status_of("a1", id),
            "processing",
            "message {id} neither delivered nor pending"
        );
    }
}

/// A pull is answered once written, before its sync (docs/queue.md, "What a reply waits for"):
/// a SIGKILL right after the answer, with nothing synced since, still leaves one holder, who
/// can ack it after the restart, and its `Scirocco-Tries`.
#[test]
fn sigkill_right_after_a_pull_keeps_its_one_holder() {
    let mut s = Server::start();
    for round in 0..5 {
        let id = s.push("a1", "b2", &json!({"round": round})).id();
        let r = s.pull("b2").expect(200);
        assert_eq!((r.id(), r.sc("Tries")), (id.clone(), "1"));
        // Killed at once: the pull's own commit was not synced, and no later commit synced it.
        s.kill9();
        s.restart();
        let held = s.get("a1", &id).expect(200);
        assert_eq!(
            (held.sc("Status"), held.sc("Tries")),
            ("processing", "1"),
            "answered pull of {id} lost by a SIGKILL"
        );
        assert_eq!(
            s.pull("b2").status,
            204,
            "a held message was delivered again"
        );
        let acked = s.ack("b2", &id).expect(200);
        assert_eq!((acked.sc("Status"), acked.sc("Tries")), ("processed", "1"));
    }
}

/// The delivery after a SIGKILL that followed a pull counts as the second one.
#[test]
fn a_redelivery_after_a_sigkill_counts_the_lost_holders_try() {
    let mut s = Server::with(Options::default().arg("--visibility-timeout").arg("1"));
    let id = s.push("a1", "b2", &json!({"job": 1})).id();
    assert_eq!(s.pull("b2").expect(200).sc("Tries"), "1");
    s.kill9();
    s.restart();
    let start = Instant::now();
    let again = loop {
        let r = s.pull("b2");
        if r.status == 200 {
            break r;
        }
        r.expect(204);
        assert!(
            start.elapsed() < DEADLINE,
            "never redelivered; log:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!((again.id(), again.sc("Tries")), (id, "2"));
}
