//! Versioned schema migrations. Every node applies the missing ones when it opens its store,
//! inside one transaction that holds a transaction-level advisory lock on the store's migration
//! key: nodes opening an empty database at once serialise there, and the later ones find the
//! work done. A schema newer than the build is refused rather than used half-understood.

use tokio_postgres::Client;

use crate::{PgError, Target};

/// One store's migrations.
pub struct Migrations<'a> {
    /// The advisory lock's key, unique per store kind (the schema's name is added to it).
    pub lock_key: &'a str,
    /// The table that records the applied versions, inside the target's schema.
    pub table: &'a str,
    /// The migrations in order; version N is `steps[N - 1]`. Never edit one that has shipped:
    /// add the next.
    pub steps: Vec<String>,
}

/// Applies the missing migrations; returns how many this call applied (0 when another node did
/// them first).
pub async fn migrate(
    client: &mut Client,
    target: &Target,
    m: &Migrations<'_>,
) -> Result<usize, PgError> {
    let (name, quoted, table) = (&target.schema, target.quoted_schema(), m.table);
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&format!("{}:{name}", m.lock_key)],
    )
    .await?;
    let has_schema: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[name],
        )
        .await?
        .get(0);
    if !has_schema {
        tx.batch_execute(&format!("CREATE SCHEMA {quoted}")).await?;
    }
    // Every start, and a standby's every ask for the channel state, comes here: the notice
    // that the table exists would be logged each time.
    tx.batch_execute(&format!(
        "SET LOCAL client_min_messages = warning;
         CREATE TABLE IF NOT EXISTS {quoted}.{table} (
            version integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now())"
    ))
    .await?;
    let current: i32 = tx
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {quoted}.{table}"),
            &[],
        )
        .await?
        .get(0);
    if current as usize > m.steps.len() {
        return Err(PgError::SchemaTooNew {
            schema: name.clone(),
            found: current,
            known: m.steps.len(),
        });
    }
    let mut applied = 0;
    for (i, sql) in m.steps.iter().enumerate().skip(current as usize) {
        tx.batch_execute(sql).await?;
        tx.execute(
            &format!("INSERT INTO {quoted}.{table} (version) VALUES ($1)"),
            &[&(i as i32 + 1)],
        )
        .await?;
        applied += 1;
    }
    tx.commit().await?;
    Ok(applied)
}
