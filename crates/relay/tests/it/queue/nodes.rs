//! Several real `relay serve --store postgres://…` nodes on one database, as one queue: a
//! message pushed on one node is pulled on another and acked on a third; many clients spread
//! over the nodes get every message exactly once; a node killed under push load loses nothing
//! it acknowledged; redelivery after the visibility timeout crosses nodes; two nodes starting
//! at once on an empty database migrate it once.
//!
//! The server comes from RELAY_TEST_POSTGRES (`scripts/with-postgres` sets it). Without it the
//! tests say they did not run and pass; with RELAY_REQUIRE_POSTGRES=1 (as the acceptance run
//! sets) they fail instead. Each test uses a schema named after the test and this process, so
//! every run starts on an empty one.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::pushers::push_until_killed;
use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::{json, Value};

/// Only keeps a broken cluster from hanging the suite; nothing is asserted about time.
const DEADLINE: Duration = Duration::from_secs(120);

/// The store URL for a fresh schema of `test`; `None` when the tests are not to run.
fn store_url(test: &str) -> Option<String> {
    let base = match std::env::var("RELAY_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("RELAY_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => panic!(
            "RELAY_REQUIRE_POSTGRES=1 but RELAY_TEST_POSTGRES is not set: run the tests under \
             scripts/with-postgres, e.g. `scripts/with-postgres cargo test -p relay --test queue_nodes`"
        ),
        _ => {
            eprintln!(
                "queue_nodes::{test} did not run: RELAY_TEST_POSTGRES is not set \
                 (run under scripts/with-postgres to test several nodes)"
            );
            return None;
        }
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!(
        "{base}{sep}schema=relay_nodes_{test}_{}",
        std::process::id()
    ))
}

fn node_options(url: &str) -> Options {
    Options::default().arg("--store").arg(url)
}

/// `n` nodes on `url`, started one after the other.
fn cluster(url: &str, n: usize, extra: &[&str]) -> Vec<Server> {
    (0..n)
        .map(|_| {
            let mut opts = node_options(url);
            for a in extra {
                opts = opts.arg(*a);
            }
            Server::with(opts)
        })
        .collect()
}

#[test]
fn push_on_a_pull_on_b_ack_on_c_read_on_a() {
    let Some(url) = store_url("roundtrip") else {
        return;
    };
    let nodes = cluster(&url, 3, &[]);
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let (from, to) = (node(), node());
    let first = a.push(&from, &to, &json!({"n": 1})).id();
    let second = a
        .req("POST", "/messageQueue")
        .source(&from)
        .dest(&to)
        .text("second, as text, v2")
        .send()
        .expect(201)
        .id();
    assert_ne!(first, second);

    let pulled = b.pull(&to).expect(200);
    assert_eq!(
        (pulled.id(), pulled.sc("Status")),
        (first.clone(), "processing")
    );
    assert_eq!(pulled.json(), json!({"n": 1}));
    // Another node sees the claim: the first message is not handed out twice.
    assert_eq!(
        c.pull(&to).expect(200).id(),
        second,
        "oldest first, across nodes"
    );
    assert_eq!(a.pull(&to).status, 204, "both messages are held");

    assert_eq!(c.ack(&to, &first).expect(200).sc("Status"), "processed");
    c.ack(&to, &first).expect(404);
    assert_eq!(a.status_of(&from, &first), "processed");
    assert_eq!(a.status_of(&to, &second), "processing");
    assert_eq!(
        a.get(&from, &second).expect(200).text(),
        "second, as text, v2"
    );

    // Changes and deletions made on one node are what the others see.
    let third = b.push(&from, &to, &json!({"n": 3})).id();
    c.req("PATCH", &format!("/messages/{third}"))
        .from(&from)
        .json(&json!({"n": "three"}))
        .send()
        .expect(200);
    assert_eq!(a.get(&to, &third).expect(200).json(), json!({"n": "three"}));
    let listed = a
        .req("GET", "/messages")
        .from(&from)
        .send()
        .expect(200)
        .json();
    let ids: Vec<&str> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| m["_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids.len(), 3, "{listed}");
    let deleted = b
        .req("DELETE", &format!("/messages/{third}"))
        .from(&from)
        .send()
        .expect(200);
    assert_eq!(deleted.json()["n"], json!(1), "{}", deleted.describe());
    a.get(&from, &third).expect(404);
}

#[test]
fn many_clients_over_three_nodes_get_every_message_exactly_once() {
    const PUSHERS: usize = 24;
    const PULLERS: usize = 24;
    const PER_PUSHER: usize = 150;
    const INBOXES: usize = 4;
    let Some(url) = store_url("exactly_once") else {
        return;
    };
    let nodes = cluster(&url, 3, &[]);
    let token = nodes[0].token.clone();
    let addrs: Vec<_> = nodes.iter().map(|n| n.addr).collect();
    let inboxes: Vec<String> = (0..INBOXES).map(|_| node()).collect();
    let pushed: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
    let pulled: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let pushers_done = Arc::new(AtomicUsize::new(0));

    let pushers: Vec<_> = (0..PUSHERS)
        .map(|t| {
            let (addr, token, to) = (addrs[t % 3], token.clone(), inboxes[t % INBOXES].clone());
            let (pushed, done) = (pushed.clone(), pushers_done.clone());
            std::thread::spawn(move || {
                let from = node();
                let mut conn = Conn::open(addr).expect("connect");
                for seq in 0..PER_PUSHER {
                    let body = json!({"pusher": t, "seq": seq});
                    let req = Request::new(addr, "POST", "/messageQueue")
                        .header("Authorization", &token)
                        .from(&from)
                        .to(&to)
                        .json(&body);
                    let r = conn.send(&req).expect("push answered").expect(201);
                    assert!(
                        pushed.lock().unwrap().insert(r.id(), body).is_none(),
                        "id {} given twice",
                        r.id()
                    );
                }
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();

    let pullers: Vec<_> = (0..PULLERS)
        .map(|t| {
            // Pullers sit on other nodes than the pushers of their inbox.
            let (addr, token, me) = (
                addrs[(t + 1) % 3],
                token.clone(),
                inboxes[t % INBOXES].clone(),
            );
            let (pulled, done) = (pulled.clone(), pushers_done.clone());
            std::thread::spawn(move || {
                let mut conn = Conn::open(addr).expect("connect");
                let start = Instant::now();
                loop {
                    // Read before pulling: an empty inbox after every pusher finished is empty
                    // for good.
                    let finished = done.load(Ordering::SeqCst) == PUSHERS;
                    let req = Request::new(addr, "GET", "/messageQueue")
                        .header("Authorization", &token)
                        .from(&me);
                    let r = conn.send(&req).expect("pull answered");
                    if r.status == 204 {
                        if finished {
                            return;
                        }
                        assert!(start.elapsed() < DEADLINE, "pushers never finished");
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    }
                    let r = r.expect(200);
                    let id = r.id();
                    pulled.lock().unwrap().push((id.clone(), r.json()));
                    let ack = Request::new(addr, "PATCH", &format!("/messageQueue/{id}/ack"))
                        .header("Authorization", &token)
                        .from(&me);
                    conn.send(&ack).expect("ack answered").expect(200);
                }
            })
        })
        .collect();
    for p in pushers {
        p.join().expect("pusher panicked");
    }
    for p in pullers {
        p.join().expect("puller panicked");
    }

    let pushed = pushed.lock().unwrap();
    let pulled = pulled.lock().unwrap();
    assert_eq!(pushed.len(), PUSHERS * PER_PUSHER);
    let mut seen = HashSet::new();
    for (id, body) in pulled.iter() {
        assert!(seen.insert(id.clone()), "{id} was pulled twice");
        assert_eq!(
            pushed.get(id),
            Some(body),
            "{id} was pulled with another body"
        );
    }
    let missing: Vec<_> = pushed.keys().filter(|id| !seen.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} pushed messages were never pulled, e.g. {:?}",
        missing.len(),
        missing.first()
    );
}

#[test]
fn a_node_killed_under_push_load_loses_no_acknowledged_push() {
    const PUSHERS: usize = 8;
    const ACKED_BEFORE_KILL: usize = 300;
    let Some(url) = store_url("kill9") else {
        return;
    };
    let mut nodes = cluster(&url, 3, &[]);
    let to = node();
    // The other nodes take pushes too while the first one dies.
    let stop = Arc::new(AtomicBool::new(false));
    let others_acked: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
    let background: Vec<_> = (1..3)
        .map(|i| {
            let (addr, token, to) = (nodes[i].addr, nodes[i].token.clone(), to.clone());
            let (stop, acked) = (stop.clone(), others_acked.clone());
            std::thread::spawn(move || {
                let from = node();
                let mut conn = Conn::open(addr).expect("connect");
                let mut seq = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body = json!({"node": i, "seq": seq});
                    let req = Request::new(addr, "POST", "/messageQueue")
                        .header("Authorization", &token)
                        .from(&from)
                        .to(&to)
                        .json(&body);
                    let r = conn.send(&req).expect("push answered").expect(201);
                    acked.lock().unwrap().insert(r.id(), body);
                    seq += 1;
                }
            })
        })
        .collect();
    let acked = push_until_killed(
        &mut nodes[0],
        PUSHERS,
        ACKED_BEFORE_KILL,
        Duration::from_secs(60),
        |_| (node(), to.clone()),
    );
    stop.store(true, Ordering::Relaxed);
    for b in background {
        b.join().expect("pusher on a surviving node panicked");
    }
    assert!(
        acked.len() >= ACKED_BEFORE_KILL,
        "only {} pushes were acknowledged before the kill",
        acked.len()
    );

    // Everything is pulled through the survivors, alternately.
    let mut delivered = HashMap::new();
    let mut turn = 0;
    loop {
        let via = &nodes[1 + turn % 2];
        turn += 1;
        let r = via.pull(&to);
        if r.status == 204 {
            break;
        }
        let r = r.expect(200);
        assert!(
            delivered.insert(r.id(), r.json()).is_none(),
            "{} delivered twice",
            r.id()
        );
        via.ack(&to, &r.id()).expect(200);
    }
    let others = others_acked.lock().unwrap();
    for (id, body) in acked
        .iter()
        .map(|(id, (_, b))| (id, b))
        .chain(others.iter())
    {
        assert_eq!(
            delivered.get(id),
            Some(body),
            "acknowledged push {id} was not delivered (or not as pushed) after the kill"
        );
    }
    // A push committed as the node died may be delivered without ever having been answered:
    // at most one in flight per pusher on the killed node.
    let unanswered = delivered.len() - acked.len() - others.len();
    assert!(
        unanswered <= PUSHERS,
        "{unanswered} messages delivered that no pusher had in flight"
    );
}

#[test]
fn an_unacked_message_is_redelivered_by_another_node() {
    let Some(url) = store_url("redelivery") else {
        return;
    };
    let mut nodes = cluster(&url, 3, &["--visibility-timeout", "1"]);
    let (from, to) = (node(), node());
    let id = nodes[0].push(&from, &to, &json!({"job": 1})).id();
    let later = nodes[0].push(&from, &to, &json!({"job": 2})).id();
    let first = nodes[1].pull(&to).expect(200);
    assert_eq!((first.id(), first.sc("Tries")), (id.clone(), "1"));

    // The node that pulled it is gone; the others' maintenance brings it back.
    nodes[1].kill9();
    let start = Instant::now();
    let again = loop {
        let r = nodes[2].get(&from, &id).expect(200);
        if r.sc("Status") == "pending" {
            break nodes[2].pull(&to).expect(200);
        }
        assert!(start.elapsed() < DEADLINE, "never requeued");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        (again.id(), again.sc("Status"), again.sc("Tries")),
        (id.clone(), "processing", "2"),
        "the overdue message comes back first, with its delivery counted"
    );
    nodes[0].ack(&to, &id).expect(200);
    assert_eq!(nodes[0].pull(&to).expect(200).id(), later);
    assert_eq!(nodes[2].status_of(&from, &id), "processed");
}

#[test]
fn two_nodes_starting_at_once_on_an_empty_database_migrate_it_once() {
    let Some(url) = store_url("migrate") else {
        return;
    };
    let starting: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || Server::with(node_options(&url)))
        })
        .collect();
    let nodes: Vec<Server> = starting
        .into_iter()
        .map(|t| t.join().expect("a node failed to start"))
        .collect();
    let migrated: Vec<bool> = nodes
        .iter()
        .map(|n| n.log().contains("queue schema migrated"))
        .collect();
    assert_eq!(
        migrated.iter().filter(|m| **m).count(),
        1,
        "exactly one node applies the migrations; logs:\n{}\n---\n{}",
        nodes[0].log(),
        nodes[1].log()
    );
    let (from, to) = (node(), node());
    let id = nodes[0].push(&from, &to, &json!({"both": "serve"})).id();
    assert_eq!(nodes[1].pull(&to).expect(200).id(), id);
    // A third node, later, finds the schema current.
    let third = Server::with(node_options(&url));
    assert!(
        !third.log().contains("queue schema migrated"),
        "{}",
        third.log()
    );
    assert_eq!(third.status_of(&from, &id), "processing");
}

/// `relay queue … --store URL` on a machine with no node's data directory: the token the
/// nodes generated and keep in the database is read from there.
#[test]
fn the_generated_token_is_shared_and_the_cli_finds_it_with_store() {
    let Some(url) = store_url("cli_token") else {
        return;
    };
    let a = Server::with(node_options(&url).token(None));
    let b = Server::with(node_options(&url).token(None));
    assert!(!a.token.is_empty());
    assert_eq!(
        a.token, b.token,
        "every node uses the token the first one stored"
    );
    assert_eq!(b.token_file().as_deref(), Some(a.token.as_str()));

    let elsewhere = tempfile::tempdir().unwrap();
    let cli = |server: &Server, args: &[&str]| {
        let out = std::process::Command::new(crate::support::BIN)
            .arg("queue")
            .args(args)
            .arg("--url")
            .arg(format!("http://{}", server.addr))
            .arg("--store")
            .arg(&url)
            .arg("--data")
            .arg(elsewhere.path())
            .arg("--json")
            .env_remove("RELAY_QUEUE_TOKEN")
            .env_remove("RELAY_STORE")
            .env_remove("RELAY_DATA")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "relay queue {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let (from, to) = (node(), node());
    let pushed = cli(
        &a,
        &["push", "--node", &from, "--to", &to, r#"{"via":"cli"}"#],
    );
    let pulled = cli(&b, &["pull", "--node", &to]);
    assert_eq!(pulled["id"], pushed["id"], "{pulled}");
    assert_eq!(pulled["payload"], json!({"via": "cli"}), "{pulled}");
}
