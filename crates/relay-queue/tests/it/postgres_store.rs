//! The PostgreSQL store against a real server: the store on its own, then the engine on top of
//! it. Each test works in a schema of its own, dropped before and after, so tests run in
//! parallel against one database and a rerun starts clean.
//!
//! The server comes from RELAY_TEST_POSTGRES (`scripts/with-postgres` sets it). Without it the
//! tests say they did not run and pass, so a plain `cargo test` works on a machine without
//! PostgreSQL; with RELAY_REQUIRE_POSTGRES=1 (as the acceptance run sets) they fail instead.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use relay_queue::{
    Change, Durability, Engine, EngineConfig, Message, PostgresError, PostgresStore, Store,
    StoreError,
};
use relay_wire::queue::{ContentKind, MessageId, Status};

use crate::support::{assert_states_kept, leave_one_message_in_each_state, new, pull_concurrently};

/// A schema of this test's own on the test server; `None` when the tests are not to run.
struct Schema {
    base: String,
    name: String,
}

impl Schema {
    fn new(test: &str) -> Option<Schema> {
        let base = match std::env::var("RELAY_TEST_POSTGRES") {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var("RELAY_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => panic!(
                "RELAY_REQUIRE_POSTGRES=1 but RELAY_TEST_POSTGRES is not set: run the tests under \
                 scripts/with-postgres, e.g. `scripts/with-postgres cargo test -p relay-queue --test it -- postgres_store::`"
            ),
            _ => {
                eprintln!(
                    "postgres_store::{test} did not run: RELAY_TEST_POSTGRES is not set \
                     (run under scripts/with-postgres to test the PostgreSQL store)"
                );
                return None;
            }
        };
        let s = Schema {
            base,
            name: format!("relay_t_{test}_{}", std::process::id()),
        };
        s.drop_schema();
        Some(s)
    }

    /// The store URL for this schema.
    fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}schema={}", self.base, self.name)
    }

    fn open(&self) -> PostgresStore {
        PostgresStore::open(&self.url()).unwrap_or_else(|e| panic!("opening {}: {e}", self.url()))
    }

    /// Runs SQL on a connection of its own, on a thread of its own so that it works whether
    /// or not the caller is inside a runtime.
    fn sql(&self, sql: String) -> Vec<tokio_postgres::Row> {
        let base = self.base.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                client
                    .query(&sql, &[])
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            })
        })
        .join()
        .unwrap()
    }

    fn drop_schema(&self) {
        self.sql(format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name));
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.drop_schema();
        }
    }
}

fn message(seq: u64, to: &str) -> Message {
    Message {
        id: MessageId([seq as u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, (seq >> 8) as u8]),
        seq,
        source: "a1".into(),
        destination: to.into(),
        status: Status::Pending,
        tries: 0,
        topic: None,
        label: "text/plain".into(),
        kind: ContentKind::Text,
        created_time: 1_700_000_000_000 + seq as i64,
        update_time: None,
        scheduled_time: None,
        processing_time: None,
        processed_time: None,
        error_time: None,
    }
}

/// A message with every optional field set and values at the edges of their types.
fn full_message(seq: u64) -> Message {
    Message {
        status: Status::Scheduled,
        tries: u32::MAX,
        topic: Some("tópico ☃".into()),
        label: "label with ÿ and \" quotes '".into(),
        kind: ContentKind::Bytes,
        created_time: i64::MIN,
        update_time: Some(i64::MAX),
        scheduled_time: Some(1),
        processing_time: Some(-1),
        processed_time: Some(0),
        error_time: Some(42),
        ..message(seq, "b2")
    }
}

fn put(m: &Message, payload: Option<&[u8]>) -> Change {
    Change::Put {
        message: m.clone(),
        payload: payload.map(Bytes::copy_from_slice),
    }
}

fn payload(store: &PostgresStore, seq: u64) -> Option<Vec<u8>> {
    store.read_payload(seq).unwrap().map(|b| b.to_vec())
}

#[test]
fn every_change_kind_round_trips() {
    let Some(schema) = Schema::new("round_trip") else {
        return;
    };
    let store = schema.open();
    assert!(
        store.load().unwrap().is_empty(),
        "a new schema starts empty"
    );

    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let (m1, m2, m3) = (message(1, "b2"), full_message(2), message(3, "c3"));
    store
        .commit(
            &[
                put(&m1, Some(b"one")),
                put(&m2, Some(&all_bytes)),
                put(&m3, Some(b"")),
            ],
            true,
        )
        .unwrap();
    assert_eq!(
        store.load().unwrap(),
        vec![m1.clone(), m2.clone(), m3.clone()]
    );
    assert_eq!(payload(&store, 1).unwrap(), b"one");
    assert_eq!(
        payload(&store, 2).unwrap(),
        all_bytes,
        "binary payloads come back byte for byte"
    );
    assert_eq!(
        payload(&store, 3).unwrap(),
        b"",
        "an empty payload is stored, not missing"
    );

    // A Put without payload changes the system data and keeps the payload.
    let mut pulled = m1.clone();
    pulled.status = Status::Processing;
    pulled.tries = 1;
    pulled.processing_time = Some(5);
    store.commit(&[put(&pulled, None)], true).unwrap();
    assert_eq!(store.load().unwrap()[0], pulled);
    assert_eq!(payload(&store, 1).unwrap(), b"one");

    // A Put with payload replaces it.
    store.commit(&[put(&m3, Some(b"three"))], true).unwrap();
    assert_eq!(payload(&store, 3).unwrap(), b"three");

    // Delete removes the row and the payload.
    store.commit(&[Change::Delete { seq: 2 }], true).unwrap();
    assert_eq!(store.load().unwrap(), vec![pulled.clone(), m3.clone()]);
    assert_eq!(payload(&store, 2), None);

    // Within one batch the changes apply in order: a Delete then a payload-less Put leaves a
    // message without payload, and Clear forgets what came before it but not after.
    let m4 = message(4, "d4");
    store
        .commit(
            &[
                put(&m4, Some(b"four")),
                Change::Delete { seq: 4 },
                put(&m4, None),
            ],
            true,
        )
        .unwrap();
    assert_eq!(store.load().unwrap().last(), Some(&m4));
    assert_eq!(payload(&store, 4), None);

    let m5 = message(5, "e5");
    store
        .commit(
            &[
                put(&message(6, "x"), Some(b"gone")),
                Change::Clear,
                put(&m5, Some(b"five")),
            ],
            true,
        )
        .unwrap();
    assert_eq!(store.load().unwrap(), vec![m5.clone()]);
    assert_eq!(payload(&store, 1), None);
    assert_eq!(payload(&store, 6), None);
    assert_eq!(payload(&store, 5).unwrap(), b"five");

    store.commit(&[Change::Clear], false).unwrap();
    assert!(store.load().unwrap().is_empty());
    assert_eq!(payload(&store, 5), None);
}

#[test]
fn the_tables_are_plain_sql() {
    let Some(schema) = Schema::new("plain_sql") else {
        return;
    };
    let store = schema.open();
    store
        .commit(&[put(&full_message(7), Some(b"{\"a\":1}"))], true)
        .unwrap();
    let rows = schema.sql(format!(
        "SELECT m.id, m.status, m.kind, m.tries, m.topic, m.scheduled_time_ms, p.data \
         FROM \"{0}\".relay_queue_messages m JOIN \"{0}\".relay_queue_payloads p USING (seq) WHERE seq = 7",
        schema.name
    ));
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.get::<_, String>(0), full_message(7).id.to_string());
    assert_eq!(r.get::<_, String>(1), "scheduled");
    assert_eq!(r.get::<_, String>(2), "bytes");
    assert_eq!(r.get::<_, i64>(3), i64::from(u32::MAX));
    assert_eq!(r.get::<_, Option<String>>(4).as_deref(), Some("tópico ☃"));
    assert_eq!(r.get::<_, Option<i64>>(5), Some(1));
    assert_eq!(r.get::<_, Vec<u8>>(6), b"{\"a\":1}");
}

#[test]
fn a_reopened_store_loads_what_was_committed() {
    let Some(schema) = Schema::new("reopen") else {
        return;
    };
    let mut expected = Vec::new();
    {
        let store = schema.open();
        for seq in 1..=3 {
            expected.push(message(seq, "b2"));
            store
                .commit(
                    &[put(
                        &expected[seq as usize - 1],
                        Some(format!("p{seq}").as_bytes()),
                    )],
                    true,
                )
                .unwrap();
        }
        // Relaxed commits, then the writer's periodic durable commit of nothing.
        expected.push(full_message(4));
        store
            .commit(&[put(&expected[3], Some(b"relaxed"))], false)
            .unwrap();
        store.commit(&[], true).unwrap();
        store.commit(&[Change::Delete { seq: 2 }], false).unwrap();
        expected.remove(1);
    }
    let store = schema.open();
    assert_eq!(store.load().unwrap(), expected);
    assert_eq!(payload(&store, 1).unwrap(), b"p1");
    assert_eq!(payload(&store, 2), None);
    assert_eq!(payload(&store, 4).unwrap(), b"relaxed");
}

#[test]
fn payload_reads() {
    let Some(schema) = Schema::new("payloads") else {
        return;
    };
    let store = schema.open();
    assert_eq!(payload(&store, 1), None, "nothing stored under seq 1 yet");
    let big: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    store
        .commit(&[put(&message(1, "b2"), Some(&big))], true)
        .unwrap();
    assert_eq!(payload(&store, 1).unwrap(), big);
    assert_eq!(payload(&store, 2), None);
}

#[test]
fn a_large_group_commit_is_one_transaction() {
    let Some(schema) = Schema::new("group") else {
        return;
    };
    let store = schema.open();
    // More rows than one upsert statement carries, with a payload each.
    let messages: Vec<Message> = (1..=10_000).map(|s| message(s, "b2")).collect();
    let changes: Vec<Change> = messages
        .iter()
        .map(|m| put(m, Some(m.seq.to_string().as_bytes())))
        .collect();
    store.commit(&changes, true).unwrap();
    assert_eq!(store.load().unwrap(), messages);
    assert_eq!(payload(&store, 9_999).unwrap(), b"9999");

    // A batch that fails part-way leaves nothing of itself behind: a seq beyond bigint makes the
    // store refuse the batch before anything is sent, so break a row on the server instead.
    schema.sql(format!(
        "ALTER TABLE \"{}\".relay_queue_messages ADD CONSTRAINT no_seq_20000 CHECK (seq <> 20000)",
        schema.name
    ));
    let bad = vec![
        put(&message(10_001, "b2"), Some(b"x")),
        Change::Delete { seq: 1 },
        put(&message(20_000, "b2"), Some(b"y")),
    ];
    let err = store.commit(&bad, true).unwrap_err();
    assert!(
        matches!(err, StoreError::Postgres(PostgresError::Driver(_))),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("no_seq_20000"),
        "the server's reason is in the message: {err}"
    );
    assert_eq!(
        store.load().unwrap().len(),
        10_000,
        "the failed batch changed nothing"
    );
    assert_eq!(payload(&store, 1).unwrap(), b"1");
    assert_eq!(payload(&store, 10_001), None);
    // The connection is usable after a failed batch.
    store.commit(&[Change::Delete { seq: 1 }], true).unwrap();
    assert_eq!(store.load().unwrap().len(), 9_999);
}

#[test]
fn only_one_process_owns_a_queue() {
    let Some(schema) = Schema::new("lock") else {
        return;
    };
    let Some(other) = Schema::new("lock_other") else {
        return;
    };
    let first = schema.open();
    match PostgresStore::open(&schema.url()) {
        Err(StoreError::Postgres(PostgresError::Locked { schema: s, holder })) => {
            assert_eq!(s, schema.name);
            assert!(
                holder.contains("application `relay`"),
                "the refusal names the holder: {holder}"
            );
        }
        Err(e) => panic!("expected a lock refusal, got {e}"),
        Ok(_) => panic!("a second store opened a queue that is already owned"),
    }
    let err = PostgresStore::open(&schema.url())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("already served by another Relay process"),
        "{err}"
    );
    // Another schema is another queue.
    let beside = other.open();
    drop(beside);
    // Ownership ends with the store, at once.
    drop(first);
    let again = schema.open();
    assert!(again.load().unwrap().is_empty());
}

#[test]
fn a_lost_connection_fails_commits_and_frees_the_queue() {
    let Some(schema) = Schema::new("lost") else {
        return;
    };
    let store = schema.open();
    store
        .commit(&[put(&message(1, "b2"), Some(b"kept"))], true)
        .unwrap();
    // The session holding the ownership lock is the one that commits.
    let killed = schema.sql(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 \
           AND ((classid::bigint << 32) | objid::bigint) = hashtextextended('relay_queue:{}', 0)",
        schema.name
    ));
    assert_eq!(killed.len(), 1, "one session holds the lock");
    assert!(killed[0].get::<_, bool>(0));
    let err = store
        .commit(&[put(&message(2, "b2"), Some(b"lost"))], true)
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Postgres(PostgresError::Driver(_))),
        "{err:?}"
    );
    // Without the lock this store must never commit again, even once the server is reachable.
    assert!(store.commit(&[Change::Delete { seq: 1 }], true).is_err());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let next = loop {
        match PostgresStore::open(&schema.url()) {
            Ok(s) => break s,
            Err(StoreError::Postgres(PostgresError::Locked { .. }))
                if std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("the queue was not freed: {e}"),
        }
    };
    assert_eq!(next.load().unwrap(), vec![message(1, "b2")]);
    assert_eq!(payload(&next, 1).unwrap(), b"kept");
    drop(store);
    assert_eq!(
        next.load().unwrap().len(),
        1,
        "closing the dead store does not disturb the new owner"
    );
}

#[test]
fn unusable_targets_fail_with_typed_errors() {
    let Some(_schema) = Schema::new("errors") else {
        return;
    };
    let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = refused.local_addr().unwrap().port();
    drop(refused);
    match PostgresStore::open(&format!("postgres://postgres@127.0.0.1:{port}/relay_test")) {
        Err(StoreError::Postgres(PostgresError::Driver(e))) => {
            let msg = PostgresError::Driver(e).to_string();
            assert!(
                msg.contains("connect"),
                "the message says what failed: {msg}"
            );
        }
        Err(e) => panic!("expected a driver error, got {e:?}"),
        Ok(_) => panic!("opened a store on a closed port"),
    }
    assert!(matches!(
        PostgresStore::open("postgres://u@127.0.0.1/db?schema=bad-name"),
        Err(StoreError::Postgres(PostgresError::Url(_)))
    ));
}

// The engine on PostgreSQL, in the shape of tests/engine.rs.

fn open_engine(schema: &Schema, config: EngineConfig) -> Arc<Engine> {
    Engine::open(Arc::new(schema.open()), config).unwrap()
}

#[tokio::test]
async fn engine_push_pull_ack_and_restart() {
    let Some(schema) = Schema::new("engine_restart") else {
        return;
    };
    let ids = leave_one_message_in_each_state(&open_engine(&schema, EngineConfig::default())).await;
    assert_states_kept(&open_engine(&schema, EngineConfig::default()), &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn engine_concurrent_pulls_never_share_a_message() {
    let Some(schema) = Schema::new("engine_concurrent") else {
        return;
    };
    let e = open_engine(&schema, EngineConfig::default());
    let mut pushes = Vec::new();
    for i in 0..200 {
        let e = e.clone();
        pushes.push(tokio::spawn(async move {
            e.push(new("a1", "b2", &format!("m{i}"))).await.unwrap().id
        }));
    }
    let mut pushed = HashSet::new();
    for p in pushes {
        pushed.insert(p.await.unwrap());
    }
    let mut seen = HashSet::new();
    for id in pull_concurrently(&e, "b2", 16).await {
        assert!(seen.insert(id), "message {id} pulled twice");
    }
    assert_eq!(seen, pushed);
}

#[tokio::test]
async fn engine_deletes_and_wipe_reach_the_database() {
    let Some(schema) = Schema::new("engine_delete") else {
        return;
    };
    let (kept, deleted) = {
        let e = open_engine(&schema, EngineConfig::default());
        let kept = e.push(new("a1", "b2", "kept")).await.unwrap().id;
        let deleted = e.push(new("a1", "b2", "deleted")).await.unwrap().id;
        assert_eq!(
            e.delete("a1", deleted, relay_queue::Access::Involved)
                .await
                .unwrap(),
            1
        );
        (kept, deleted)
    };
    let e = open_engine(&schema, EngineConfig::default());
    assert!(e.get("a1", kept).await.unwrap().is_some());
    assert!(e.get("a1", deleted).await.unwrap().is_none());
    assert_eq!(e.wipe().await.unwrap(), 1);
    drop(e);
    let e = open_engine(&schema, EngineConfig::default());
    assert_eq!(e.hook_count(), 0, "the wipe is in the database");
}

#[tokio::test]
async fn engine_relaxed_durability_reaches_the_database() {
    let Some(schema) = Schema::new("engine_relaxed") else {
        return;
    };
    let config = EngineConfig {
        durability: Durability::Relaxed,
        ..Default::default()
    };
    let id = {
        let e = open_engine(&schema, config);
        let id = e.push(new("a1", "b2", "x")).await.unwrap().id;
        e.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        id
    };
    let e = open_engine(&schema, EngineConfig::default());
    assert_eq!(e.get("a1", id).await.unwrap().unwrap().payload.data, "x");
}
