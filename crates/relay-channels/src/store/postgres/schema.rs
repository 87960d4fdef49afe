//! The channel state's tables and their versioned migrations.
//!
//! Every hub applies the missing migrations when it opens, inside one transaction that holds a
//! transaction-level advisory lock on the schema's migration key (its own, apart from the
//! queue's): two hubs opening an empty database at once serialise there, and the second finds
//! the work done.
//!
//! The tables mirror the embedded store: one per record kind, keyed as there, the record's JSON
//! as bytes; each channel's log record (offset reservation, clean stop, holes) in
//! `channel_logs`; messages keyed by `(channel_id, offset)`.

use tokio_postgres::Client;

use super::PostgresError;
use crate::store::Table;

pub(super) const MIGRATIONS: &str = "channel_migrations";
pub(super) const META: &str = "channel_meta";
pub(super) const LOGS: &str = "channel_logs";
pub(super) const MESSAGES: &str = "channel_messages";

/// The table of a record kind.
pub(super) fn table(t: Table) -> String {
    format!("channel_{}", t.name())
}

/// The migrations in order; version N is `migrations(..)[N - 1]`. Never edit one that has
/// shipped: add the next.
fn migrations(s: &str) -> Vec<String> {
    let mut first: String = Table::ALL
        .iter()
        .map(|&t| {
            format!(
                "CREATE TABLE {s}.{} (key text PRIMARY KEY, value bytea NOT NULL);\n",
                table(t)
            )
        })
        .collect();
    first.push_str(&format!(
        "CREATE TABLE {s}.{META} (key text PRIMARY KEY, value bytea NOT NULL);
        CREATE TABLE {s}.{LOGS} (channel_id text PRIMARY KEY, meta bytea NOT NULL);
        CREATE TABLE {s}.{MESSAGES} (
            channel_id text NOT NULL,
            \"offset\" bigint NOT NULL,
            value bytea NOT NULL,
            PRIMARY KEY (channel_id, \"offset\"));"
    ));
    vec![first]
}

/// Applies the missing migrations; returns how many this call applied (0 when another hub did
/// them first).
pub(super) async fn migrate(
    client: &mut Client,
    name: &str,
    quoted: &str,
) -> Result<usize, PostgresError> {
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&format!("relay_channels_migrate:{name}")],
    )
    .await?;
    let has_schema: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&name],
        )
        .await?
        .get(0);
    if !has_schema {
        tx.batch_execute(&format!("CREATE SCHEMA {quoted}")).await?;
    }
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {quoted}.{MIGRATIONS} (
            version integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now())"
    ))
    .await?;
    let current: i32 = tx
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {quoted}.{MIGRATIONS}"),
            &[],
        )
        .await?
        .get(0);
    let all = migrations(quoted);
    if current as usize > all.len() {
        return Err(PostgresError::SchemaTooNew {
            schema: name.to_string(),
            found: current,
            known: all.len(),
        });
    }
    let mut applied = 0;
    for (i, sql) in all.iter().enumerate().skip(current as usize) {
        tx.batch_execute(sql).await?;
        tx.execute(
            &format!("INSERT INTO {quoted}.{MIGRATIONS} (version) VALUES ($1)"),
            &[&(i as i32 + 1)],
        )
        .await?;
        applied += 1;
    }
    tx.commit().await?;
    Ok(applied)
}
