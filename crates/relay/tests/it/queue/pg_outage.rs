//! A node whose database goes away: requests fail with a 500 that names the cause, nothing is
//! answered as done, and once the database is reachable again the node serves on by itself,
//! without a restart. The database's disappearance is a TCP proxy of the test's own between
//! the node and PostgreSQL, which cuts every connection and refuses new ones.
//!
//! The server comes from RELAY_TEST_POSTGRES (`scripts/with-postgres` sets it); without it the
//! test says it did not run and passes, with RELAY_REQUIRE_POSTGRES=1 it fails instead.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(60);

/// Forwards connections to `upstream` until `cut` is called; while cut, new connections are
/// closed at once.
struct Proxy {
    port: u16,
    down: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (d, o) = (down.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if d.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                {
                    let mut open = o.lock().unwrap();
                    open.push(client.try_clone().unwrap());
                    open.push(server.try_clone().unwrap());
                }
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Proxy { port, down, open }
    }

    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

/// `host:port` and the rest of RELAY_TEST_POSTGRES, or `None` when the test is not to run.
fn upstream() -> Option<(String, String, String)> {
    let base = match std::env::var("RELAY_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("RELAY_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => {
            panic!("RELAY_REQUIRE_POSTGRES=1 but RELAY_TEST_POSTGRES is not set")
        }
        _ => {
            eprintln!("queue_pg_outage did not run: RELAY_TEST_POSTGRES is not set");
            return None;
        }
    };
    // postgres://USER@HOST:PORT/DB[?…], as scripts/with-postgres gives it.
    let rest = base.strip_prefix("postgres://").expect("a postgres:// URL");
    let (user, rest) = rest.split_once('@').expect("USER@HOST:PORT/DB");
    let (hostport, db) = rest.split_once('/').expect("USER@HOST:PORT/DB");
    Some((user.to_string(), hostport.to_string(), db.to_string()))
}

#[test]
fn a_vanished_database_is_a_clear_500_and_service_resumes_by_itself() {
    let Some((user, hostport, db)) = upstream() else {
        return;
    };
    let proxy = Proxy::start(hostport);
    let sep = if db.contains('?') { '&' } else { '?' };
    let url = format!(
        "postgres://{user}@127.0.0.1:{}/{db}{sep}schema=relay_outage_{}",
        proxy.port,
        std::process::id()
    );
    let s = Server::with(Options::default().arg("--store").arg(&url));
    let (from, to) = (node(), node());
    let before = s.push(&from, &to, &json!({"n": 1})).id();

    proxy.cut();
    let failed = s
        .req("POST", "/messageQueue")
        .from(&from)
        .to(&to)
        .json(&json!({"n": 2}))
        .send();
    assert_eq!(failed.status, 500, "{}", failed.describe());
    let body = failed.text();
    assert!(
        body.contains("storage failed: PostgreSQL: "),
        "the 500 names the cause: {body}"
    );
    assert_eq!(
        s.pull(&to).status,
        500,
        "a pull is not answered from memory"
    );
    assert!(s.alive(), "the node keeps serving: {}", s.log());

    proxy.restore();
    let start = Instant::now();
    let pulled = loop {
        let r = s.pull(&to);
        if r.status == 200 {
            break r;
        }
        assert_eq!(r.status, 500, "{}", r.describe());
        assert!(start.elapsed() < DEADLINE, "never came back: {}", s.log());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        pulled.id(),
        before,
        "the push answered before the outage is there"
    );
    s.ack(&to, &before).expect(200);
    // The push refused during the outage was not stored behind the client's back... or, if
    // its commit reached the database before the cut, it is delivered like any other; either
    // way the queue holds nothing else.
    let r = s.pull(&to);
    if r.status == 200 {
        assert_eq!(r.json(), json!({"n": 2}));
    } else {
        assert_eq!(r.status, 204, "{}", r.describe());
    }
    s.push(&from, &to, &json!({"n": 3}));
    assert!(!s.log().contains("panicked"), "{}", s.log());
}
