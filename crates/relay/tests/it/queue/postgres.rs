//! The real `relay serve --store postgres://…` binary: what was answered survives a SIGKILL,
//! and a second server may serve the same queue.
//!
//! The server comes from RELAY_TEST_POSTGRES (`scripts/with-postgres` sets it). Without it the
//! tests say they did not run and pass, so a plain `cargo test` works on a machine without
//! PostgreSQL; with RELAY_REQUIRE_POSTGRES=1 (as the acceptance run sets) they fail instead.
//! Each test uses a schema of its own and empties it first, so a rerun starts clean.

use std::collections::HashSet;

use std::time::Duration;

use crate::support::pushers::push_until_killed;
use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::json;

/// The store URL for `schema` on the test server; `None` when the tests are not to run.
fn store_url(test: &str, schema: &str) -> Option<String> {
    let base = match std::env::var("RELAY_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("RELAY_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => panic!(
            "RELAY_REQUIRE_POSTGRES=1 but RELAY_TEST_POSTGRES is not set: run the tests under \
             scripts/with-postgres, e.g. `scripts/with-postgres cargo test -p relay --test it -- queue::postgres::`"
        ),
        _ => {
            eprintln!(
                "queue_postgres::{test} did not run: RELAY_TEST_POSTGRES is not set \
                 (run under scripts/with-postgres to test the PostgreSQL store)"
            );
            return None;
        }
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}schema={schema}"))
}

/// A server on `url` with the test hooks on, its queue emptied of earlier runs' messages.
fn start(url: &str) -> Server {
    let s = Server::with(Options::default().arg("--store").arg(url).hooks());
    assert!(
        s.log().contains("queue store: postgres://"),
        "the server says where its queue is:\n{}",
        s.log()
    );
    s.req("DELETE", "/__test__/messages").send().expect(200);
    s
}

#[test]
fn answered_changes_survive_sigkill() {
    let Some(url) = store_url("answered_changes_survive_sigkill", "relay_e2e_sigkill") else {
        return;
    };
    let mut s = start(&url);
    let (from, to) = (node(), node());
    let first = s
        .push(&from, &to, &json!({"n": 1, "text": "première"}))
        .id();
    let second = s
        .req("POST", "/messageQueue")
        .from(&from)
        .to(&to)
        .text("second, as text")
        .send()
        .expect(201)
        .id();
    let third = s
        .req("POST", "/messageQueue")
        .from(&from)
        .to(&to)
        .bytes(&[0, 1, 254, 255])
        .send()
        .expect(201)
        .id();
    assert_eq!(s.pull(&to).expect(200).id(), first);
    s.ack(&to, &first).expect(200);
    assert_eq!(s.pull(&to).expect(200).id(), second);

    s.kill9();
    s.restart();

    assert_eq!(s.status_of(&from, &first), "processed", "the ack survived");
    assert_eq!(
        s.status_of(&from, &second),
        "processing",
        "the pull survived"
    );
    let r = s.pull(&to).expect(200);
    assert_eq!(
        r.id(),
        third,
        "the pending message is delivered after the restart"
    );
    assert_eq!(
        r.json(),
        json!(b64(&[0, 1, 254, 255])),
        "with its payload, base64 as bytes are on a pull"
    );
    assert_eq!(
        s.get(&from, &first).expect(200).json(),
        json!({"n": 1, "text": "première"})
    );
    assert_eq!(s.pull(&to).status, 204, "nothing else is waiting");

    // A clean stop closes the store from inside the server's runtime, where blocking on another
    // runtime would panic.
    let status = s.stop_with("TERM").expect("the server stops on SIGTERM");
    assert!(status.success(), "exit {status}; stderr:\n{}", s.log());
    assert!(!s.log().contains("panicked"), "{}", s.log());
    s.restart();
    assert_eq!(
        s.status_of(&from, &third),
        "processing",
        "the last pull survived the clean stop"
    );
}

#[test]
fn sigkill_mid_stream_loses_no_acknowledged_push() {
    const PUSHERS: usize = 8;
    const ACKED_BEFORE_KILL: usize = 200;
    let Some(url) = store_url(
        "sigkill_mid_stream_loses_no_acknowledged_push",
        "relay_e2e_stream",
    ) else {
        return;
    };
    let mut s = start(&url);
    let to = node();
    let acked = push_until_killed(
        &mut s,
        PUSHERS,
        ACKED_BEFORE_KILL,
        Duration::from_secs(60),
        |_| (node(), to.clone()),
    );
    assert!(
        acked.len() >= ACKED_BEFORE_KILL,
        "only {} pushes were acknowledged before the kill",
        acked.len()
    );

    s.restart();
    let mut delivered = HashSet::new();
    loop {
        let r = s.pull(&to);
        if r.status == 204 {
            break;
        }
        let r = r.expect(200);
        assert!(delivered.insert(r.id()), "{} delivered twice", r.id());
    }
    for (id, (from, body)) in &acked {
        assert!(
            delivered.contains(id),
            "acknowledged push {id} lost after SIGKILL; server log:\n{}",
            s.log()
        );
        assert_eq!(&s.get(from, id).expect(200).json(), body, "payload of {id}");
    }
}

/// The store used to admit one server per queue; it is now shared by any number of them
/// (queue_nodes.rs tests that at length).
#[test]
fn a_second_server_serves_the_same_queue() {
    let Some(url) = store_url("a_second_server_serves_the_same_queue", "relay_e2e_owner") else {
        return;
    };
    let first = start(&url);
    let second = Server::with(Options::default().arg("--store").arg(&url));
    let (from, to) = (node(), node());
    let id = first.push(&from, &to, &json!({"via": "first"})).id();
    assert_eq!(second.pull(&to).expect(200).id(), id);
    second.ack(&to, &id).expect(200);
    assert_eq!(first.status_of(&from, &id), "processed");
}

#[test]
fn an_unusable_store_is_a_startup_error() {
    let Some(url) = store_url("an_unusable_store_is_a_startup_error", "relay_e2e_unusable") else {
        return;
    };
    let bad_schema = url.replace("schema=relay_e2e_unusable", "schema=not-a-name");
    let err = Server::try_with(Options::default().arg("--store").arg(&bad_schema))
        .err()
        .expect("started");
    assert!(
        err.contains("invalid PostgreSQL store URL: schema `not-a-name`"),
        "{err}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let unreachable = format!("postgres://relay:secret-pw@127.0.0.1:{port}/relay_test");
    let err = Server::try_with(Options::default().env("RELAY_STORE", &unreachable))
        .err()
        .expect("started");
    assert!(
        err.contains("opening the PostgreSQL queue store: PostgreSQL: error connecting to server"),
        "{err}"
    );
    assert!(
        !err.contains("secret-pw"),
        "the password is never printed: {err}"
    );
}
