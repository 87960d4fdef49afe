//! The tables and the statements on them. System data is kept in real columns so that the queue
//! can be inspected with plain SQL; payloads sit in their own table, so that a state change (a
//! pull, an ack) rewrites a small row and never the payload, as in the embedded store.

use tokio_postgres::{Client, Statement};

use super::error::PostgresError;

pub(super) const MESSAGES: &str = "relay_queue_messages";
pub(super) const PAYLOADS: &str = "relay_queue_payloads";

/// The message columns in the order every statement below uses them.
const COLUMNS: &str = "seq, id, source, destination, status, tries, topic, label, kind, \
    created_time_ms, update_time_ms, scheduled_time_ms, processing_time_ms, processed_time_ms, error_time_ms";

fn create_messages(schema: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {schema}.{MESSAGES} (
            seq bigint PRIMARY KEY,
            id text NOT NULL,
            source text NOT NULL,
            destination text NOT NULL,
            status text NOT NULL CHECK (status IN ('pending', 'scheduled', 'processing', 'processed')),
            tries bigint NOT NULL,
            topic text,
            label text NOT NULL,
            kind text NOT NULL CHECK (kind IN ('json', 'text', 'bytes')),
            created_time_ms bigint NOT NULL,
            update_time_ms bigint,
            scheduled_time_ms bigint,
            processing_time_ms bigint,
            processed_time_ms bigint,
            error_time_ms bigint
        )"
    )
}

fn create_payloads(schema: &str) -> String {
    format!("CREATE TABLE IF NOT EXISTS {schema}.{PAYLOADS} (seq bigint PRIMARY KEY, data bytea NOT NULL)")
}

/// Creates what is missing. Existence is checked first because `CREATE ... IF NOT EXISTS` still
/// demands the CREATE privilege, which a role given only an existing schema need not have.
pub(super) async fn ensure(
    client: &mut Client,
    name: &str,
    quoted: &str,
) -> Result<(), PostgresError> {
    let tx = client.transaction().await?;
    let has_schema: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&name],
        )
        .await?
        .get(0);
    if !has_schema {
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {quoted}"))
            .await?;
    }
    for (table, ddl) in [
        (MESSAGES, create_messages(quoted)),
        (PAYLOADS, create_payloads(quoted)),
    ] {
        let exists: bool = tx
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&format!("{quoted}.{table}")],
            )
            .await?
            .get(0);
        if !exists {
            tx.batch_execute(&ddl).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Statements prepared once on the connection that commits.
pub(super) struct WriteStatements {
    pub upsert: Statement,
    pub delete: Statement,
    pub upsert_payloads: Statement,
    pub delete_payloads: Statement,
    pub truncate: String,
}

impl WriteStatements {
    pub(super) async fn prepare(
        client: &Client,
        s: &str,
    ) -> Result<WriteStatements, PostgresError> {
        let updates = COLUMNS
            .split(", ")
            .skip(1)
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let upsert = format!(
            "INSERT INTO {s}.{MESSAGES} ({COLUMNS}) \
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], \
                $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], \
                $14::bigint[], $15::bigint[]) \
             ON CONFLICT (seq) DO UPDATE SET {updates}"
        );
        Ok(WriteStatements {
            upsert: client.prepare(&upsert).await?,
            delete: client
                .prepare(&format!(
                    "WITH gone AS (DELETE FROM {s}.{MESSAGES} WHERE seq = ANY($1::bigint[])) \
                     DELETE FROM {s}.{PAYLOADS} WHERE seq = ANY($1::bigint[])"
                ))
                .await?,
            upsert_payloads: client
                .prepare(&format!(
                    "INSERT INTO {s}.{PAYLOADS} (seq, data) SELECT * FROM unnest($1::bigint[], $2::bytea[]) \
                     ON CONFLICT (seq) DO UPDATE SET data = EXCLUDED.data"
                ))
                .await?,
            delete_payloads: client.prepare(&format!("DELETE FROM {s}.{PAYLOADS} WHERE seq = ANY($1::bigint[])")).await?,
            // TRUNCATE takes an exclusive lock, harmless here since only this process uses the
            // tables, and it does not leave a table's worth of dead rows behind as DELETE would.
            truncate: format!("TRUNCATE {s}.{MESSAGES}, {s}.{PAYLOADS}"),
        })
    }
}

/// Statements prepared once on the connection that reads.
pub(super) struct ReadStatements {
    pub load: Statement,
    pub read_payload: Statement,
}

impl ReadStatements {
    pub(super) async fn prepare(client: &Client, s: &str) -> Result<ReadStatements, PostgresError> {
        Ok(ReadStatements {
            load: client
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM {s}.{MESSAGES} ORDER BY seq"
                ))
                .await?,
            read_payload: client
                .prepare(&format!("SELECT data FROM {s}.{PAYLOADS} WHERE seq = $1"))
                .await?,
        })
    }
}
