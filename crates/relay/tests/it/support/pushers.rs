//! Concurrent pushers that run until the server is killed under them, for the crash tests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::queue_http::Request;
use super::server::Server;

/// Every push that got its 201: id -> (source node, JSON body).
pub(crate) type Acked = HashMap<String, (String, Value)>;

/// Runs `pushers` threads that push JSON bodies as fast as they are answered, `route(t)` giving
/// thread `t`'s (source, destination); once `kill_after` pushes are acknowledged (or `deadline`
/// passed) the server gets a SIGKILL mid-stream. Returns the acknowledged pushes.
pub(crate) fn push_until_killed(
    s: &mut Server,
    pushers: usize,
    kill_after: usize,
    deadline: Duration,
    route: impl Fn(usize) -> (String, String),
) -> Acked {
    push_until(s, pushers, kill_after, deadline, route, Server::kill9).0
}

/// Like [`push_until_killed`], with `end` instead of the SIGKILL; returns what `end` gave too.
pub(crate) fn push_until<T>(
    s: &mut Server,
    pushers: usize,
    after: usize,
    deadline: Duration,
    route: impl Fn(usize) -> (String, String),
    end: impl FnOnce(&mut Server) -> T,
) -> (Acked, T) {
    let acked: Arc<Mutex<Acked>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..pushers)
        .map(|t| {
            let (addr, token, (from, to)) = (s.addr, s.token.clone(), route(t));
            let (acked, count, stop) = (acked.clone(), count.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut seq = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let body = json!({"thread": t, "seq": seq});
                    let req = Request::new(addr, "POST", "/messageQueue")
                        .header("Authorization", &token)
                        .from(&from)
                        .to(&to)
                        .json(&body);
                    match req.try_send() {
                        Ok(r) if r.status == 201 => {
                            acked.lock().unwrap().insert(r.id(), (from.clone(), body));
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => panic!("push failed before the end: {}", r.describe()),
                        // The server is gone or closed its listener: only acknowledged pushes
                        // are promised.
                        Err(_) => return,
                    }
                    seq += 1;
                }
            })
        })
        .collect();
    let start = Instant::now();
    while count.load(Ordering::Relaxed) < after && start.elapsed() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let ended = end(s);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("pusher panicked");
    }
    let acked = acked.lock().unwrap().clone();
    (acked, ended)
}
