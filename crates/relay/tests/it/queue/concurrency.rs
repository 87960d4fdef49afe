//! Many producers and consumers at once: every message is delivered exactly once (no
//! visibility timeout fires at the default of 300 s), in per-producer order, and ends processed.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::json;

const PRODUCERS: usize = 6;
const CONSUMERS: usize = 6;
const PER_PRODUCER: usize = 40;

#[test]
fn producers_and_consumers_exactly_once() {
    let s = Server::start();
    let (addr, token) = (s.addr, s.token.clone());
    let req = move |m: &str, p: &str| Request::new(addr, m, p).header("Authorization", &token);
    let produced = Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (req, produced) = (req.clone(), produced.clone());
            std::thread::spawn(move || {
                (0..PER_PRODUCER)
                    .map(|i| {
                        let r = req("POST", "/messageQueue")
                            .from(&format!("a{p}"))
                            .to("cc")
                            .json(&json!({"p": p, "i": i}))
                            .send()
                            .expect(201);
                        produced.fetch_add(1, Ordering::SeqCst);
                        r.id()
                    })
                    .collect::<Vec<String>>()
            })
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let (req, produced) = (req.clone(), produced.clone());
            std::thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    // Read the count before pulling: a 204 then means everything pushed so far
                    // has been taken, and if that was all of it, this consumer is done.
                    let seen = produced.load(Ordering::SeqCst);
                    let r = req("GET", "/messageQueue").from("cc").send();
                    if r.status == 204 {
                        if seen == PRODUCERS * PER_PRODUCER {
                            return got;
                        }
                        std::thread::yield_now();
                        continue;
                    }
                    let r = r.expect(200);
                    let body = r.json();
                    req("PATCH", &format!("/messageQueue/{}/ack", r.id()))
                        .from("cc")
                        .send()
                        .expect(200);
                    got.push((
                        r.id(),
                        body["p"].as_u64().unwrap() as usize,
                        body["i"].as_u64().unwrap() as usize,
                    ));
                }
            })
        })
        .collect();
    let pushed: Vec<Vec<String>> = producers.into_iter().map(|h| h.join().unwrap()).collect();
    let mut delivered = Vec::new();
    for c in consumers {
        delivered.extend(c.join().unwrap());
    }
    let ids: HashSet<&String> = delivered.iter().map(|(id, ..)| id).collect();
    assert_eq!(ids.len(), delivered.len(), "a message was delivered twice");
    let all: HashSet<&String> = pushed.iter().flatten().collect();
    assert_eq!(ids, all, "delivered set differs from pushed set");
    // Each consumer saw each producer's messages in the order they were pushed.
    let index: HashMap<&String, (usize, usize)> =
        delivered.iter().map(|(id, p, i)| (id, (*p, *i))).collect();
    for (p, list) in pushed.iter().enumerate() {
        for (i, id) in list.iter().enumerate() {
            assert_eq!(index[id], (p, i), "payload of {id}");
        }
    }
    let listed = s
        .req("GET", "/messages?limit=1000")
        .from("cc")
        .send()
        .expect(200)
        .json();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 100, "the list is capped at 100");
    assert!(
        listed.iter().all(|m| m["status"] == "processed"),
        "unprocessed message left"
    );
    s.pull("cc").expect(204);
}
