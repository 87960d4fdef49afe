//! The shared PostgreSQL queue's schema migrations against a real server: the tables of the
//! earlier single-owner store are adopted, a schema newer than this build is refused, and
//! unusable targets fail with typed errors.
//!
//! The server comes from RELAY_TEST_POSTGRES (`scripts/with-postgres` sets it). Without it the
//! tests say they did not run and pass; with RELAY_REQUIRE_POSTGRES=1 they fail instead.

use std::sync::Arc;

use bytes::Bytes;
use relay_pg::PgError;
use relay_queue::{EngineConfig, Message, PostgresError, SharedQueue};
use relay_wire::queue::{ContentKind, MessageId, Status};

/// A schema of this test's own, dropped before and after; `None` when the tests are not to run.
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
                 scripts/with-postgres"
            ),
            _ => {
                eprintln!("shared_queue::{test} did not run: RELAY_TEST_POSTGRES is not set");
                return None;
            }
        };
        let s = Schema {
            base,
            name: format!("relay_s_{test}_{}", std::process::id()),
        };
        s.sql(format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", s.name));
        Some(s)
    }

    fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}schema={}", self.base, self.name)
    }

    fn sql(&self, sql: String) {
        let base = self.base.clone();
        runtime().block_on(async move {
            let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
                .batch_execute(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        });
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.sql(format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name));
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn message(seq: u64, to: &str, status: Status) -> Message {
    Message {
        id: MessageId([seq as u8, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 42]),
        seq,
        source: "a1".into(),
        destination: to.into(),
        status,
        tries: u32::from(status == Status::Processed),
        topic: None,
        label: "text/plain".into(),
        kind: ContentKind::Text,
        created_time: 1_700_000_000_000 + seq as i64,
        update_time: None,
        scheduled_time: None,
        processing_time: None,
        processed_time: (status == Status::Processed).then_some(1_700_000_000_500),
        error_time: None,
    }
}

#[test]
fn the_single_owner_stores_messages_are_adopted() {
    let Some(schema) = Schema::new("adopt") else {
        return;
    };
    let done = message(7, "b2", Status::Processed);
    let waiting = message(9, "b2", Status::Pending);
    // The single-owner store's two tables as it created them (it is gone from the code; its
    // data is what migration 2 adopts).
    let q = format!("\"{}\"", schema.name);
    schema.sql(format!(
        "CREATE SCHEMA {q};
         CREATE TABLE {q}.relay_queue_messages (
            seq bigint PRIMARY KEY, id text NOT NULL, source text NOT NULL,
            destination text NOT NULL,
            status text NOT NULL CHECK (status IN ('pending', 'scheduled', 'processing', 'processed')),
            tries bigint NOT NULL, topic text, label text NOT NULL,
            kind text NOT NULL CHECK (kind IN ('json', 'text', 'bytes')),
            created_time_ms bigint NOT NULL, update_time_ms bigint, scheduled_time_ms bigint,
            processing_time_ms bigint, processed_time_ms bigint, error_time_ms bigint);
         CREATE TABLE {q}.relay_queue_payloads (seq bigint PRIMARY KEY, data bytea NOT NULL);"
    ));
    for (m, body) in [(&done, "done"), (&waiting, "waiting")] {
        let opt = |t: Option<i64>| t.map_or("NULL".to_owned(), |t| t.to_string());
        schema.sql(format!(
            "INSERT INTO {q}.relay_queue_messages VALUES
                ({seq}, '{id}', '{source}', '{destination}', '{status}', {tries}, NULL,
                 '{label}', 'text', {created}, {update}, {scheduled}, {processing}, {processed},
                 {error});
             INSERT INTO {q}.relay_queue_payloads VALUES ({seq}, '{body}'::bytea);",
            seq = m.seq,
            id = m.id,
            source = m.source,
            destination = m.destination,
            status = m.status.as_str(),
            tries = m.tries,
            label = m.label,
            created = m.created_time,
            update = opt(m.update_time),
            scheduled = opt(m.scheduled_time),
            processing = opt(m.processing_time),
            processed = opt(m.processed_time),
            error = opt(m.error_time),
        ));
    }

    let rt = runtime();
    rt.block_on(async {
        let config = EngineConfig {
            processed_retention: None,
            ..EngineConfig::default()
        };
        let q: Arc<SharedQueue> = SharedQueue::open(&schema.url(), config).await.unwrap();
        let pulled = q.pull("b2").await.unwrap().expect("the pending message");
        assert_eq!(
            (pulled.message.id, pulled.message.seq, pulled.message.tries),
            (waiting.id, 9, 1)
        );
        assert_eq!(pulled.payload.data, Bytes::from("waiting"));
        let kept = q.get("a1", done.id).await.unwrap().expect("processed one");
        assert_eq!(kept.message, done, "every column as the old store had it");
        assert!(q.pull("b2").await.unwrap().is_none());
        let pushed = q
            .push(relay_queue::NewMessage {
                source: "a1".into(),
                destination: "b2".into(),
                status: Status::Pending,
                scheduled_time: None,
                label: "text/plain".into(),
                payload: relay_wire::queue::Payload {
                    kind: ContentKind::Text,
                    data: Bytes::from("new"),
                },
            })
            .await
            .unwrap();
        assert!(pushed.seq > 9, "new messages come after the adopted ones");
    });
}

#[test]
fn a_schema_newer_than_this_build_is_refused() {
    let Some(schema) = Schema::new("too_new") else {
        return;
    };
    let rt = runtime();
    rt.block_on(async {
        drop(
            SharedQueue::open(&schema.url(), EngineConfig::default())
                .await
                .unwrap(),
        );
    });
    schema.sql(format!(
        "INSERT INTO \"{}\".relay_queue_migrations (version) VALUES (9999)",
        schema.name
    ));
    let err = rt
        .block_on(SharedQueue::open(&schema.url(), EngineConfig::default()))
        .err()
        .expect("opened a schema from the future");
    assert!(
        matches!(
            err,
            PostgresError::Pg(PgError::SchemaTooNew { found: 9999, .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade this node"), "{err}");
}

#[test]
fn unusable_targets_fail_with_typed_errors() {
    let Some(_schema) = Schema::new("errors") else {
        return;
    };
    let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = refused.local_addr().unwrap().port();
    drop(refused);
    let rt = runtime();
    let url = format!("postgres://postgres@127.0.0.1:{port}/relay_test");
    match rt.block_on(SharedQueue::open(&url, EngineConfig::default())) {
        Err(e @ PostgresError::Pg(PgError::Driver(_))) => {
            let msg = e.to_string();
            assert!(
                msg.contains("connect"),
                "the message says what failed: {msg}"
            );
        }
        Err(e) => panic!("expected a driver error, got {e:?}"),
        Ok(_) => panic!("opened a queue on a closed port"),
    }
    let bad = "postgres://u@127.0.0.1/db?schema=bad-name";
    assert!(matches!(
        rt.block_on(SharedQueue::open(bad, EngineConfig::default())),
        Err(PostgresError::Pg(PgError::Url(_)))
    ));
}
