//! The PostgreSQL store: the same tables-of-record as the embedded store, on a database server,
//! for deployments that outgrow one machine's disk or want the queue in their existing backups.
//!
//! Two connections: one commits (and holds the ownership lock), one reads. Keeping reads off the
//! committing connection means a payload read never waits behind, or runs inside, a batch's
//! transaction.

mod batch;
mod bridge;
mod error;
mod rows;
mod schema;
pub(crate) mod target;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use tokio::task::JoinHandle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls};

pub use error::PostgresError;

use super::{Change, Store, StoreError};
use crate::message::Message;
use batch::Batch;
use bridge::Bridge;
use rows::{message_from_row, Columns};
use schema::{ReadStatements, WriteStatements};
use target::Target;

/// Rows per upsert statement: large group commits still bind arrays of a sensible size.
const UPSERT_ROWS: usize = 4096;
/// How long closing waits for the server to see the connections go.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

pub struct PostgresStore {
    conns: Option<Conns>,
    lock_name: String,
    location: String,
    /// A commit with `synchronous_commit = off` went through since the last durable one, so a
    /// durable commit of nothing must still force the WAL to disk.
    unsynced: AtomicBool,
    // Last: the runtime must outlive the connections it drives.
    bridge: Bridge,
}

struct Conns {
    writer: Arc<tokio::sync::Mutex<Client>>,
    write_sql: Arc<WriteStatements>,
    reader: Arc<Client>,
    read_sql: Arc<ReadStatements>,
    tasks: Vec<JoinHandle<()>>,
}

impl PostgresStore {
    /// Connects, takes ownership of the queue in the URL's schema (`?schema=NAME`, default
    /// `public`) and creates the tables if they are missing. Fails with `PostgresError::Locked`
    /// while another process owns that queue.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let target = Target::parse(url)?;
        let bridge = Bridge::new()?;
        let lock_name = format!("relay_queue:{}", target.schema);
        let conns = bridge.run(connect(
            target.config.clone(),
            target.schema.clone(),
            target.quoted_schema(),
            lock_name.clone(),
        ))?;
        Ok(PostgresStore {
            conns: Some(conns),
            lock_name,
            location: target.describe(),
            unsynced: AtomicBool::new(false),
            bridge,
        })
    }

    /// Where the store is (user, host, database, schema; never the password), for logs.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn conns(&self) -> Result<&Conns, PostgresError> {
        self.conns.as_ref().ok_or(PostgresError::Closed)
    }
}

async fn connect(
    config: Config,
    schema: String,
    quoted: String,
    lock_name: String,
) -> Result<Conns, PostgresError> {
    let mut tasks = Vec::new();
    let (mut writer, connection) = config.connect(NoTls).await?;
    tasks.push(drive(connection, "committing"));
    let locked: bool = writer
        .query_one(
            "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
            &[&lock_name],
        )
        .await?
        .get(0);
    if !locked {
        return Err(PostgresError::Locked {
            schema,
            holder: lock_holder(&writer, &lock_name).await,
        });
    }
    schema::ensure(&mut writer, &schema, &quoted).await?;
    let write_sql = WriteStatements::prepare(&writer, &quoted).await?;
    let (reader, connection) = config.connect(NoTls).await?;
    tasks.push(drive(connection, "reading"));
    let read_sql = ReadStatements::prepare(&reader, &quoted).await?;
    Ok(Conns {
        writer: Arc::new(tokio::sync::Mutex::new(writer)),
        write_sql: Arc::new(write_sql),
        reader: Arc::new(reader),
        read_sql: Arc::new(read_sql),
        tasks,
    })
}

/// Runs a connection until its client is dropped or the server goes away.
fn drive<F>(connection: F, role: &'static str) -> JoinHandle<()>
where
    F: Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            // The lock went with the session: commits fail from now on rather than risk a
            // second owner, and Relay has to be restarted to serve the queue again.
            tracing::error!(error = %PostgresError::from(e), role, "PostgreSQL connection lost");
        }
    })
}

/// "(backend pid N, application A, from ADDR)" for the refusal message, when the server tells.
async fn lock_holder(client: &Client, lock_name: &str) -> String {
    // A bigint advisory key shows in pg_locks as its high half in classid and its low half in
    // objid, with objsubid 1.
    let row = client
        .query_opt(
            "SELECT l.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local socket')
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended($1, 0)
             LIMIT 1",
            &[&lock_name],
        )
        .await;
    match row {
        Ok(Some(r)) => {
            let pid: i32 = r.get(0);
            let app: String = r.get(1);
            let from: String = r.get(2);
            format!(" (PostgreSQL backend pid {pid}, application `{app}`, from {from})")
        }
        _ => String::new(),
    }
}

type Work<'a> = Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a>>;

impl Store for PostgresStore {
    fn load(&self) -> Result<Vec<Message>, StoreError> {
        let c = self.conns()?;
        let (reader, sql) = (c.reader.clone(), c.read_sql.clone());
        let messages = self.bridge.run(async move {
            let rows = reader
                .query_raw(&sql.load, std::iter::empty::<&(dyn ToSql + Sync)>())
                .await?;
            futures_util::pin_mut!(rows);
            let mut out = Vec::new();
            while let Some(row) = rows.try_next().await? {
                out.push(message_from_row(&row)?);
            }
            Ok(out)
        })?;
        Ok(messages)
    }

    fn commit(&self, changes: &[Change], durable: bool) -> Result<(), StoreError> {
        let force_sync = changes.is_empty() && durable && self.unsynced.load(Ordering::Acquire);
        if changes.is_empty() && !force_sync {
            return Ok(());
        }
        let batch = Batch::fold(changes)?;
        let c = self.conns()?;
        let (writer, sql) = (c.writer.clone(), c.write_sql.clone());
        self.bridge.run(async move {
            let mut client = writer.lock().await;
            let tx = client.transaction().await?;
            if !durable {
                tx.batch_execute("SET LOCAL synchronous_commit = off")
                    .await?;
            }
            if force_sync {
                // A transaction that writes nothing commits without touching the WAL; one that
                // takes a transaction id writes a commit record, and flushing it flushes every
                // asynchronous commit before it.
                tx.batch_execute("SELECT txid_current()").await?;
            }
            if batch.clear {
                tx.batch_execute(&sql.truncate).await?;
            }
            // After folding, every seq appears in one statement at most, so the statements are
            // independent and are sent together (pipelined) rather than one round trip each.
            let columns = batch
                .upsert
                .chunks(UPSERT_ROWS)
                .map(Columns::new)
                .collect::<Result<Vec<_>, _>>()?;
            let column_params: Vec<_> = columns.iter().map(Columns::params).collect();
            let payload_columns: Vec<(Vec<i64>, Vec<&[u8]>)> = batch
                .payload_chunks
                .iter()
                .map(|chunk| {
                    (
                        chunk.iter().map(|(s, _)| *s).collect(),
                        chunk.iter().map(|(_, d)| d.as_ref()).collect(),
                    )
                })
                .collect();
            let payload_params: Vec<[&(dyn ToSql + Sync); 2]> = payload_columns
                .iter()
                .map(|(seqs, data)| [seqs as &(dyn ToSql + Sync), data])
                .collect();
            let delete_params: [&(dyn ToSql + Sync); 1] = [&batch.delete];
            let delete_payload_params: [&(dyn ToSql + Sync); 1] = [&batch.delete_payloads];
            let mut work: Vec<Work<'_>> = Vec::new();
            if !batch.delete.is_empty() {
                work.push(Box::pin(tx.execute(&sql.delete, &delete_params)));
            }
            if !batch.delete_payloads.is_empty() {
                work.push(Box::pin(
                    tx.execute(&sql.delete_payloads, &delete_payload_params),
                ));
            }
            for params in &column_params {
                work.push(Box::pin(tx.execute(&sql.upsert, params)));
            }
            for params in &payload_params {
                work.push(Box::pin(tx.execute(&sql.upsert_payloads, params)));
            }
            futures_util::future::try_join_all(work).await?;
            tx.commit().await?;
            Ok(())
        })?;
        // Commits come from the writer thread only, so this order of flag updates is the order
        // of the commits.
        self.unsynced.store(!durable, Ordering::Release);
        Ok(())
    }

    fn read_payload(&self, seq: u64) -> Result<Option<Bytes>, StoreError> {
        let seq = batch::sql_seq(seq)?;
        let c = self.conns()?;
        let (reader, sql) = (c.reader.clone(), c.read_sql.clone());
        let data = self.bridge.run(async move {
            let row = reader.query_opt(&sql.read_payload, &[&seq]).await?;
            Ok(row.map(|r| r.try_get::<_, Vec<u8>>(0)).transpose()?)
        })?;
        Ok(data.map(Bytes::from))
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        let Some(Conns {
            writer,
            write_sql,
            reader,
            read_sql,
            tasks,
        }) = self.conns.take()
        else {
            return;
        };
        let lock_name = self.lock_name.clone();
        let closed = self.bridge.run(async move {
            // Released explicitly: the server drops a closed session's locks only when its
            // backend exits, which can be a moment after a reopen in this process tries.
            let unlocked = writer
                .lock()
                .await
                .execute(
                    "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
                    &[&lock_name],
                )
                .await;
            drop((write_sql, writer, read_sql, reader));
            for task in tasks {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, task).await;
            }
            unlocked.map(|_| ()).map_err(PostgresError::from)
        });
        if let Err(e) = closed {
            tracing::warn!(error = %e, "closing the PostgreSQL queue store");
        }
    }
}
