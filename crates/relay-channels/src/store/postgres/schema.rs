//! The channel state's tables and their versioned migrations.
//!
//! Every hub applies the missing migrations when it opens, under the channel state's own
//! migration lock, apart from the queue's (`relay_pg::migrate`): two hubs opening an empty
//! database at once apply them once.
//!
//! The tables mirror the embedded store: one per record kind, keyed as there, the record's JSON
//! as bytes; each channel's log record (offset reservation, clean stop, holes) in
//! `channel_logs`; messages keyed by `(channel_id, offset)`. Uploaded files (version 2) are a
//! row in `channel_files` per complete file and its bytes in `channel_file_chunks`: see
//! `store/files/postgres.rs` for why chunks.

use relay_pg::{Migrations, Target};
use tokio_postgres::Client;

use super::PostgresError;
use crate::store::Table;

pub(super) const MIGRATIONS: &str = "channel_migrations";
pub(super) const META: &str = "channel_meta";
pub(super) const LOGS: &str = "channel_logs";
pub(super) const MESSAGES: &str = "channel_messages";
pub(crate) const FILES: &str = "channel_files";
pub(crate) const FILE_CHUNKS: &str = "channel_file_chunks";

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
    // Chunks are stored as they come: most uploads (images, audio, archives) are compressed
    // already, and EXTERNAL spares PostgreSQL trying again on every chunk.
    let files = format!(
        "CREATE TABLE {s}.{FILES} (
            key text PRIMARY KEY,
            size bigint NOT NULL,
            chunks integer NOT NULL,
            stored_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE {s}.{FILE_CHUNKS} (
            key text NOT NULL REFERENCES {s}.{FILES} (key) ON DELETE CASCADE,
            seq integer NOT NULL,
            data bytea NOT NULL,
            PRIMARY KEY (key, seq));
        ALTER TABLE {s}.{FILE_CHUNKS} ALTER COLUMN data SET STORAGE EXTERNAL;"
    );
    vec![first, files]
}

/// Applies the missing migrations; returns how many this call applied (0 when another hub did
/// them first).
pub(super) async fn migrate(client: &mut Client, target: &Target) -> Result<usize, PostgresError> {
    let m = Migrations {
        lock_key: "relay_channels_migrate",
        table: MIGRATIONS,
        steps: migrations(&target.quoted_schema()),
    };
    Ok(relay_pg::migrate(client, target, &m).await?)
}
