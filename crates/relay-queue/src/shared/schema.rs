//! The shared queue's tables and their versioned migrations.
//!
//! Every node applies missing migrations when it starts, under the queue's own migration lock
//! (`relay_pg::migrate`): two nodes starting at once on an empty database apply them once. That
//! lock is the only advisory lock the shared queue takes, and it is released at that
//! transaction's end.

use relay_pg::{Migrations, Target};
use tokio_postgres::Client;

use super::PostgresError;

pub(super) const ITEMS: &str = "relay_queue_items";
pub(super) const MIGRATIONS: &str = "relay_queue_migrations";
pub(super) const SETTINGS: &str = "relay_queue_settings";
pub(super) const NODES: &str = "relay_queue_nodes";

/// The migrations in order; version N is `migrations(..)[N - 1]`. Never edit one that has shipped:
/// add the next.
fn migrations(s: &str) -> Vec<String> {
    vec![
        format!(
            "CREATE TABLE {s}.{ITEMS} (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id text NOT NULL UNIQUE,
            source text NOT NULL,
            destination text NOT NULL,
            status text NOT NULL CHECK (status IN ('pending', 'scheduled', 'processing', 'processed')),
            tries bigint NOT NULL DEFAULT 0,
            topic text,
            label text NOT NULL,
            kind text NOT NULL CHECK (kind IN ('json', 'text', 'bytes')),
            created_time_ms bigint NOT NULL,
            update_time_ms bigint,
            scheduled_time_ms bigint,
            processing_time_ms bigint,
            processed_time_ms bigint,
            error_time_ms bigint,
            data bytea NOT NULL
        ) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.01,
                autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_cost_delay = 0);
        CREATE INDEX {ITEMS}_due ON {s}.{ITEMS} (destination, seq)
            WHERE status IN ('pending', 'scheduled');
        CREATE INDEX {ITEMS}_in_flight ON {s}.{ITEMS} (processing_time_ms)
            WHERE status = 'processing';
        CREATE INDEX {ITEMS}_processed ON {s}.{ITEMS} (processed_time_ms)
            WHERE status = 'processed';
        CREATE INDEX {ITEMS}_by_source ON {s}.{ITEMS} (source, seq);
        CREATE INDEX {ITEMS}_by_destination ON {s}.{ITEMS} (destination, seq);
        CREATE SEQUENCE {s}.{NODES};
        CREATE TABLE {s}.{SETTINGS} (name text PRIMARY KEY, value text NOT NULL);"
        ),
        // The single-owner store of earlier versions kept its messages in two tables of the
        // same schema: they are copied in, seq and all, and left in place (an operator drops
        // them once satisfied).
        format!(
            "DO $adopt$ BEGIN
            IF to_regclass('{s}.relay_queue_messages') IS NOT NULL
               AND to_regclass('{s}.relay_queue_payloads') IS NOT NULL THEN
                INSERT INTO {s}.{ITEMS} (seq, {COPIED}, data) OVERRIDING SYSTEM VALUE
                    SELECT m.seq, {COPIED_M}, p.data FROM {s}.relay_queue_messages m
                    JOIN {s}.relay_queue_payloads p USING (seq) ORDER BY m.seq;
                PERFORM setval(pg_get_serial_sequence('{s}.{ITEMS}', 'seq'),
                    (SELECT coalesce(max(seq), 0) + 1 FROM {s}.{ITEMS}), false);
            END IF;
            END $adopt$"
        ),
    ]
}

/// The columns the single-owner store had besides `seq`, in its names.
const COPIED: &str = "id, source, destination, status, tries, topic, label, kind, \
    created_time_ms, update_time_ms, scheduled_time_ms, processing_time_ms, processed_time_ms, \
    error_time_ms";
const COPIED_M: &str = "m.id, m.source, m.destination, m.status, m.tries, m.topic, m.label, \
    m.kind, m.created_time_ms, m.update_time_ms, m.scheduled_time_ms, m.processing_time_ms, \
    m.processed_time_ms, m.error_time_ms";

/// The newest schema version this build knows.
pub(super) fn latest() -> i32 {
    migrations("s").len() as i32
}

/// Applies the missing migrations; returns how many this call applied (0 when another node did
/// them first).
pub(super) async fn migrate(client: &mut Client, target: &Target) -> Result<usize, PostgresError> {
    let steps = migrations(&target.quoted_schema());
    let m = Migrations {
        lock_key: "relay_queue_migrate",
        table: MIGRATIONS,
        steps,
    };
    Ok(relay_pg::migrate(client, target, &m).await?)
}
