//! Crash safety: with the default `--durability immediate`, a push that got its 201 survives a
//! SIGKILL of the server, and is delivered after the restart (at least once, none lost).

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::queue_server::*;

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
    let mut s = QueueServer::start();
    let acked: Arc<Mutex<HashMap<String, (String, Value)>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..PUSHERS)
        .map(|t| {
            let (addr, token) = (s.addr, s.token.clone());
            let (acked, count, stop) = (acked.clone(), count.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut seq = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let body = json!({"thread": t, "seq": seq});
                    let req = Request::new(addr, "POST", "/messageQueue")
                        .header("Authorization", &token)
                        .from(&format!("a{t}"))
                        .to(&dest(t))
                        .json(&body);
                    match req.try_send() {
                        Ok(r) if r.status == 201 => {
                            acked.lock().unwrap().insert(r.id(), (format!("a{t}"), body));
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => panic!("push failed before the kill: {}", r.describe()),
                        // The server is gone: only acknowledged pushes are promised.
                        Err(_) => return,
                    }
                    seq += 1;
                }
            })
        })
        .collect();

    let start = Instant::now();
    while count.load(Ordering::Relaxed) < ACKED_BEFORE_KILL && start.elapsed() < DEADLINE {
        std::thread::sleep(Duration::from_millis(5));
    }
    s.kill9();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("pusher panicked");
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= PUSHERS, "only {} pushes were acknowledged before the kill", acked.len());

    s.restart();
    for (id, (source, body)) in &acked {
        let r = s.get(source, id);
        assert_eq!(r.status, 200, "acknowledged push {id} lost after SIGKILL; server log:\n{}", s.log());
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
    assert!(missing.is_empty(), "{} acknowledged pushes never delivered, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
}
