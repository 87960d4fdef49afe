//! The queue whose state is a PostgreSQL database, shared by any number of Relay nodes.
//!
//! Nothing here decides from memory: every pull claims rows with `FOR UPDATE SKIP LOCKED`, every
//! ack and change is a statement whose `WHERE` clause checks the rules, and maintenance
//! (redelivery after the visibility timeout, processed retention) runs on every node, each
//! claiming its share with `SKIP LOCKED`. Times come from the database's clock, so nodes whose
//! clocks differ still agree on when a message is due or overdue.
//!
//! Each node batches: concurrent pushes become one multi-row `INSERT … SELECT unnest(…)`, acks
//! one `UPDATE … FROM unnest(…)` that locks its rows in `seq` order, pulls one statement that
//! claims for every waiting client at once. Each kind has its own batcher and two connections,
//! so a pull never waits for a push's commit and one batch gathers while another commits.
//! Every statement is one autocommitted transaction.

mod batcher;
mod error;
mod schema;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use relay_wire::queue::{ContentKind, MessageId, Payload, Status};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Row, Statement};

use crate::engine::{Access, EngineConfig, HookDoc, HookFilter, HookUpdate, Stored};
use crate::error::EngineError;
use crate::ids::IdGenerator;
use crate::index::Counts;
use crate::message::{Message, NewMessage};
use crate::store::{Durability, StoreError};
use batcher::Batcher;
pub use error::PostgresError;
use relay_pg::Target;
use schema::ITEMS;

/// The database's clock in milliseconds, the engine's unit.
const NOW_MS: &str = "(extract(epoch from statement_timestamp()) * 1000)::bigint";
/// The message columns in the order `message_from_row` reads them.
const COLS: &str = "seq, id, source, destination, status, tries, topic, label, kind, \
    created_time_ms, update_time_ms, scheduled_time_ms, processing_time_ms, processed_time_ms, \
    error_time_ms";
/// Batches of each kind in flight at once per node, each on its own connection.
const IN_FLIGHT: usize = 2;
/// Rows one maintenance statement touches at most, so that it holds few locks for a short time.
const MAINTENANCE_ROWS: i64 = 1000;

pub(super) fn err(e: impl Into<PostgresError>) -> EngineError {
    EngineError::Store(StoreError::Postgres(e.into()))
}

/// A copy of an error for each of a batch's waiting callers: the driver's error cannot be
/// cloned, so each gets its causes as text (what a 500 shows and the log records).
pub(super) fn copied(e: &EngineError) -> EngineError {
    match e {
        EngineError::Store(cause) => EngineError::Store(StoreError::Io(std::io::Error::other(
            relay_wire::error_chain::ErrorChain(cause).to_string(),
        ))),
        EngineError::Closed => EngineError::Closed,
    }
}

/// The statements every connection prepares.
struct Sql {
    push: String,
    pull: String,
    ack: String,
    get: String,
    list: String,
    payload: String,
}

impl Sql {
    fn new(s: &str) -> Sql {
        let m_cols = COLS
            .split(", ")
            .map(|c| format!("m.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        Sql {
            push: format!(
                "INSERT INTO {s}.{ITEMS} (id, source, destination, status, label, kind, \
                    created_time_ms, scheduled_time_ms, data) \
                 SELECT id, src, dst, st, lbl, knd, {NOW_MS}, sch, d FROM unnest($1::text[], \
                    $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], \
                    $8::bytea[]) AS t(id, src, dst, st, lbl, knd, sch, d) \
                 RETURNING seq, id, created_time_ms"
            ),
            pull: format!(
                "WITH want AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS w(dest, n)), \
                 picked AS (SELECT c.seq FROM want CROSS JOIN LATERAL ( \
                    SELECT i.seq FROM {s}.{ITEMS} i \
                    WHERE i.destination = want.dest AND i.status IN ('pending', 'scheduled') \
                      AND (i.status = 'pending' OR i.scheduled_time_ms <= {NOW_MS}) \
                    ORDER BY i.seq LIMIT want.n FOR UPDATE SKIP LOCKED) c) \
                 UPDATE {s}.{ITEMS} m SET status = 'processing', tries = m.tries + 1, \
                    update_time_ms = {NOW_MS}, processing_time_ms = {NOW_MS} \
                 FROM picked WHERE m.seq = picked.seq \
                 RETURNING {m_cols}, m.data"
            ),
            ack: format!(
                "WITH req AS (SELECT * FROM unnest($1::text[], $2::text[]) AS r(id, node)), \
                 locked AS (SELECT i.seq FROM {s}.{ITEMS} i \
                    WHERE i.id IN (SELECT id FROM req) AND i.status = 'processing' \
                      AND EXISTS (SELECT 1 FROM req WHERE req.id = i.id \
                        AND req.node = i.destination) \
                    ORDER BY i.seq FOR UPDATE) \
                 UPDATE {s}.{ITEMS} m SET status = 'processed', processed_time_ms = {NOW_MS}, \
                    update_time_ms = {NOW_MS} \
                 FROM locked WHERE m.seq = locked.seq AND m.status = 'processing' \
                 RETURNING {m_cols}, m.data"
            ),
            get: format!(
                "SELECT {COLS}, data FROM {s}.{ITEMS} WHERE id = $1 \
                 AND (source = $2 OR destination = $2)"
            ),
            list: format!(
                "SELECT {COLS} FROM {s}.{ITEMS} WHERE source = $1 OR destination = $1 \
                 ORDER BY seq LIMIT $2"
            ),
            payload: format!("SELECT data FROM {s}.{ITEMS} WHERE seq = $1"),
        }
    }
}

struct Prepared {
    push: Statement,
    pull: Statement,
    ack: Statement,
    get: Statement,
    list: Statement,
    payload: Statement,
}

/// One connection, made again on first use after it was lost (a PostgreSQL restart, a network
/// cut): requests in between fail with 500 and nothing is decided from memory meanwhile.
struct Conn {
    config: Config,
    sql: Arc<Sql>,
    relaxed: bool,
    settings: &'static str,
    live: tokio::sync::Mutex<Option<(Arc<Client>, Arc<Prepared>)>>,
}

/// Settings of the connections that run the batches. A prepared statement's plan is chosen
/// once: left to itself PostgreSQL plans it again for each of its first executions and then
/// keeps a generic plan, which, made while the table was small (a node's first minutes, or a
/// new queue), reads the whole table on every batch long after the table has grown (the
/// benchmark found thousands of sequential scans). Every batch statement has an index path:
/// generic plans always, made with sequential scans ruled out, are right at any size and cost
/// no planning per batch.
const HOT_SETTINGS: &str = "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off";
/// The other connection's: its prepared reads (get, list, a listed payload) are planned for
/// each call, so they too never keep a plan made for a small table; they are not the hot path,
/// and its counts and maintenance need plans that may scan.
const GENERAL_SETTINGS: &str = "SET plan_cache_mode = force_custom_plan";

impl Conn {
    fn new(config: Config, sql: Arc<Sql>, relaxed: bool, settings: &'static str) -> Conn {
        Conn {
            config,
            sql,
            relaxed,
            settings,
            live: tokio::sync::Mutex::new(None),
        }
    }

    async fn get(&self) -> Result<(Arc<Client>, Arc<Prepared>), EngineError> {
        self.connected().await.map_err(err)
    }

    async fn connected(&self) -> Result<(Arc<Client>, Arc<Prepared>), PostgresError> {
        let mut live = self.live.lock().await;
        if let Some((c, p)) = live.as_ref() {
            if !c.is_closed() {
                return Ok((c.clone(), p.clone()));
            }
        }
        *live = None;
        let (client, connection) = self.config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %PostgresError::from(e), "PostgreSQL queue connection lost");
            }
        });
        if self.relaxed {
            client.batch_execute("SET synchronous_commit = off").await?;
        }
        client.batch_execute(self.settings).await?;
        let sql = &self.sql;
        let prepared = Prepared {
            push: client.prepare(&sql.push).await?,
            pull: client.prepare(&sql.pull).await?,
            ack: client.prepare(&sql.ack).await?,
            get: client.prepare(&sql.get).await?,
            list: client.prepare(&sql.list).await?,
            payload: client.prepare(&sql.payload).await?,
        };
        let pair = (Arc::new(client), Arc::new(prepared));
        *live = Some(pair.clone());
        Ok(pair)
    }
}

fn kind_str(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Json => "json",
        ContentKind::Text => "text",
        ContentKind::Bytes => "bytes",
    }
}

fn parse_kind(s: &str) -> Option<ContentKind> {
    match s {
        "json" => Some(ContentKind::Json),
        "text" => Some(ContentKind::Text),
        "bytes" => Some(ContentKind::Bytes),
        _ => None,
    }
}

fn message_from_row(row: &Row) -> Result<Message, EngineError> {
    let seq: i64 = row.try_get(0).map_err(err)?;
    let corrupt = |what: String| {
        err(PostgresError::Corrupt {
            table: ITEMS,
            seq,
            what,
        })
    };
    let id: &str = row.try_get(1).map_err(err)?;
    let status: &str = row.try_get(4).map_err(err)?;
    let tries: i64 = row.try_get(5).map_err(err)?;
    let kind: &str = row.try_get(8).map_err(err)?;
    let g = |i: usize| -> Result<Option<i64>, EngineError> { row.try_get(i).map_err(err) };
    Ok(Message {
        id: MessageId::parse(id).map_err(|e| corrupt(format!("id `{id}`: {e}")))?,
        seq: u64::try_from(seq).map_err(|_| corrupt("negative seq".into()))?,
        source: row.try_get(2).map_err(err)?,
        destination: row.try_get(3).map_err(err)?,
        status: Status::parse(status)
            .ok_or_else(|| corrupt(format!("unknown status `{status}`")))?,
        tries: u32::try_from(tries).map_err(|_| corrupt(format!("tries {tries} out of range")))?,
        topic: row.try_get(6).map_err(err)?,
        label: row.try_get(7).map_err(err)?,
        kind: parse_kind(kind).ok_or_else(|| corrupt(format!("unknown kind `{kind}`")))?,
        created_time: row.try_get(9).map_err(err)?,
        update_time: g(10)?,
        scheduled_time: g(11)?,
        processing_time: g(12)?,
        processed_time: g(13)?,
        error_time: g(14)?,
    })
}

/// A row of `COLS` followed by `data`.
fn stored_from_row(row: &Row) -> Result<Stored, EngineError> {
    let message = message_from_row(row)?;
    let data: Vec<u8> = row.try_get(15).map_err(err)?;
    Ok(Stored {
        payload: Payload {
            kind: message.kind,
            data: Bytes::from(data),
        },
        message,
    })
}

/// The `WHERE` condition of an access rule, with the node as `$2`.
fn access_sql(access: Access) -> &'static str {
    match access {
        Access::Involved => "(source = $2 OR destination = $2)",
        Access::SenderWhileWaiting => "(source = $2 AND status IN ('pending', 'scheduled'))",
    }
}

type PushReq = (MessageId, NewMessage);
type PullReq = String;
type AckReq = (String, MessageId);

pub struct SharedQueue {
    schema: String,
    location: String,
    config: EngineConfig,
    ids: IdGenerator,
    /// Reads, single-row changes, maintenance and the test hooks: statements pipeline on it.
    general: Arc<Conn>,
    pushes: Batcher<PushReq, Message>,
    pulls: Batcher<PullReq, Option<Stored>>,
    acks: Batcher<AckReq, Option<Stored>>,
}

impl SharedQueue {
    /// Connects, applies the missing schema migrations (safely when several nodes start at
    /// once) and takes a node number from the database for this node's message ids.
    pub async fn open(url: &str, config: EngineConfig) -> Result<Arc<SharedQueue>, PostgresError> {
        let target = Target::parse(url, "relay")?;
        let quoted = target.quoted_schema();
        let (mut client, connection) = target.config.connect(NoTls).await?;
        let setup = tokio::spawn(connection);
        let applied = schema::migrate(&mut client, &target).await?;
        if applied > 0 {
            tracing::info!(applied, version = schema::latest(), "queue schema migrated");
        }
        let node: i64 = client
            .query_one(
                &format!("SELECT nextval('{quoted}.{}')", schema::NODES),
                &[],
            )
            .await?
            .get(0);
        drop(client);
        let _ = setup.await;
        // The node number takes the 5 bytes an ObjectId gives to its process, so ids made on
        // different nodes never collide; the unique index on `id` would refuse one that did.
        let process: [u8; 5] = node.to_be_bytes()[3..].try_into().expect("5 bytes");
        let sql = Arc::new(Sql::new(&quoted));
        let relaxed = config.durability == Durability::Relaxed;
        let conn = |settings| {
            Arc::new(Conn::new(
                target.config.clone(),
                sql.clone(),
                relaxed,
                settings,
            ))
        };
        let general = conn(GENERAL_SETTINGS);
        let hot = || {
            (0..IN_FLIGHT)
                .map(|_| conn(HOT_SETTINGS))
                .collect::<Vec<_>>()
        };
        general.connected().await?;
        Ok(Arc::new(SharedQueue {
            schema: quoted,
            location: target.describe(),
            config,
            ids: IdGenerator::with_process(process),
            general,
            pushes: Batcher::spawn(hot(), push_batch, |(_, m): &PushReq| m.payload.data.len()),
            pulls: Batcher::spawn(hot(), pull_batch, |_| 0),
            acks: Batcher::spawn(hot(), ack_batch, |_| 0),
        }))
    }

    /// The queue token the nodes of the database at `url` share, if one has been stored; for
    /// clients, so nothing is created or migrated.
    pub async fn stored_token(url: &str) -> Result<Option<String>, PostgresError> {
        let target = Target::parse(url, "relay")?;
        let (client, connection) = target.config.connect(NoTls).await?;
        let conn = tokio::spawn(connection);
        let settings = format!("{}.{}", target.quoted_schema(), schema::SETTINGS);
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&settings])
            .await?
            .get(0);
        let token = if exists {
            client
                .query_opt(
                    &format!("SELECT value FROM {settings} WHERE name = 'queue_token'"),
                    &[],
                )
                .await?
                .map(|row| row.get(0))
        } else {
            None
        };
        drop(client);
        let _ = conn.await;
        Ok(token)
    }

    /// Where the queue is (user, host, database, schema; never the password), for logs.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn table(&self) -> String {
        format!("{}.{ITEMS}", self.schema)
    }

    /// The queue token every node of this database shares: `given`, or the one stored in the
    /// database, generated by the first node that needed one.
    pub async fn shared_token(&self, generated: &str) -> Result<String, EngineError> {
        let (c, _) = self.general.get().await?;
        let settings = format!("{}.{}", self.schema, schema::SETTINGS);
        c.execute(
            &format!(
                "INSERT INTO {settings} (name, value) VALUES ('queue_token', $1) \
                 ON CONFLICT (name) DO NOTHING"
            ),
            &[&generated],
        )
        .await
        .map_err(err)?;
        let row = c
            .query_one(
                &format!("SELECT value FROM {settings} WHERE name = 'queue_token'"),
                &[],
            )
            .await
            .map_err(err)?;
        Ok(row.get(0))
    }

    pub async fn push(&self, new: NewMessage) -> Result<Message, EngineError> {
        let id = self.ids.next(crate::now_ms());
        self.pushes.submit((id, new)).await
    }

    pub async fn pull(&self, node: &str) -> Result<Option<Stored>, EngineError> {
        self.pulls.submit(node.to_string()).await
    }

    pub async fn ack(&self, node: &str, id: MessageId) -> Result<Option<Stored>, EngineError> {
        self.acks.submit((node.to_string(), id)).await
    }

    pub async fn get(&self, node: &str, id: MessageId) -> Result<Option<Stored>, EngineError> {
        let (c, p) = self.general.get().await?;
        let row = c
            .query_opt(&p.get, &[&id.to_string(), &node])
            .await
            .map_err(err)?;
        row.as_ref().map(stored_from_row).transpose()
    }

    pub async fn list(&self, node: &str, limit: usize) -> Result<Vec<Message>, EngineError> {
        let (c, p) = self.general.get().await?;
        let rows = c
            .query(&p.list, &[&node, &(limit as i64)])
            .await
            .map_err(err)?;
        rows.iter().map(message_from_row).collect()
    }

    pub async fn listed_payload(&self, message: Message) -> Result<Option<Stored>, EngineError> {
        let (c, p) = self.general.get().await?;
        let row = c
            .query_opt(&p.payload, &[&(message.seq as i64)])
            .await
            .map_err(err)?;
        let Some(row) = row else { return Ok(None) };
        let data: Vec<u8> = row.try_get(0).map_err(err)?;
        Ok(Some(Stored {
            payload: Payload {
                kind: message.kind,
                data: Bytes::from(data),
            },
            message,
        }))
    }

    pub async fn may_change(
        &self,
        node: &str,
        id: MessageId,
        access: Access,
    ) -> Result<bool, EngineError> {
        let (c, _) = self.general.get().await?;
        let sql = format!(
            "SELECT 1 FROM {} WHERE id = $1 AND {}",
            self.table(),
            access_sql(access)
        );
        let row = c
            .query_opt(&sql, &[&id.to_string(), &node])
            .await
            .map_err(err)?;
        Ok(row.is_some())
    }

    pub async fn update(
        &self,
        node: &str,
        id: MessageId,
        access: Access,
        payload: Payload,
    ) -> Result<Option<Stored>, EngineError> {
        let (c, _) = self.general.get().await?;
        let sql = format!(
            "UPDATE {} SET data = $3, kind = $4, update_time_ms = {NOW_MS} \
             WHERE id = $1 AND {} RETURNING {COLS}",
            self.table(),
            access_sql(access)
        );
        let row = c
            .query_opt(
                &sql,
                &[
                    &id.to_string(),
                    &node,
                    &payload.data.as_ref(),
                    &kind_str(payload.kind),
                ],
            )
            .await
            .map_err(err)?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Stored {
            message: message_from_row(&row)?,
            payload,
        }))
    }

    pub async fn delete(
        &self,
        node: &str,
        id: MessageId,
        access: Access,
    ) -> Result<u64, EngineError> {
        let (c, _) = self.general.get().await?;
        let sql = format!(
            "DELETE FROM {} WHERE id = $1 AND {}",
            self.table(),
            access_sql(access)
        );
        c.execute(&sql, &[&id.to_string(), &node])
            .await
            .map_err(err)
    }

    pub async fn delete_all(&self, node: &str, access: Access) -> Result<u64, EngineError> {
        let (c, _) = self.general.get().await?;
        // `$1` is unused by the rule but keeps its numbering.
        let sql = format!(
            "DELETE FROM {} WHERE $1::text IS NOT NULL AND {}",
            self.table(),
            access_sql(access)
        );
        c.execute(&sql, &[&"", &node]).await.map_err(err)
    }

    pub async fn wipe(&self) -> Result<u64, EngineError> {
        let (c, _) = self.general.get().await?;
        c.execute(&format!("DELETE FROM {}", self.table()), &[])
            .await
            .map_err(err)
    }

    /// Returns overdue messages to pending and drops processed ones past their retention, a
    /// bounded share at a time, skipping rows another node is working on. Returns (requeued,
    /// purged).
    pub async fn maintain(&self) -> Result<(usize, usize), EngineError> {
        let (c, _) = self.general.get().await?;
        let t = self.table();
        let mut requeued = 0;
        if let Some(vt) = self.config.visibility_timeout {
            let sql = format!(
                "UPDATE {t} m SET status = 'pending', processing_time_ms = NULL, \
                    update_time_ms = {NOW_MS} \
                 FROM (SELECT seq FROM {t} WHERE status = 'processing' \
                    AND processing_time_ms <= {NOW_MS} - $1 \
                    ORDER BY processing_time_ms LIMIT $2 FOR UPDATE SKIP LOCKED) o \
                 WHERE m.seq = o.seq"
            );
            loop {
                let n = c
                    .execute(&sql, &[&(vt.as_millis() as i64), &MAINTENANCE_ROWS])
                    .await
                    .map_err(err)?;
                requeued += n as usize;
                if n < MAINTENANCE_ROWS as u64 {
                    break;
                }
            }
        }
        let mut purged = 0;
        if let Some(keep) = self.config.processed_retention {
            let sql = format!(
                "DELETE FROM {t} WHERE seq IN (SELECT seq FROM {t} WHERE status = 'processed' \
                    AND processed_time_ms <= {NOW_MS} - $1 \
                    LIMIT $2 FOR UPDATE SKIP LOCKED)"
            );
            loop {
                let n = c
                    .execute(&sql, &[&(keep.as_millis() as i64), &MAINTENANCE_ROWS])
                    .await
                    .map_err(err)?;
                purged += n as usize;
                if n < MAINTENANCE_ROWS as u64 {
                    break;
                }
            }
        }
        Ok((requeued, purged))
    }

    /// Test hook: inserts documents as given. Returns their ids in input order.
    pub async fn hook_insert(&self, docs: Vec<HookDoc>) -> Result<Vec<MessageId>, EngineError> {
        let (c, _) = self.general.get().await?;
        let t = self.table();
        let insert = format!(
            "INSERT INTO {t} (id, source, destination, status, tries, topic, label, kind, \
                created_time_ms, scheduled_time_ms, processing_time_ms, processed_time_ms, data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, {NOW_MS}, $9, \
                CASE WHEN $4 = 'processing' THEN {NOW_MS} END, \
                CASE WHEN $4 = 'processed' THEN {NOW_MS} END, $10)"
        );
        let mut ids = Vec::with_capacity(docs.len());
        for doc in docs {
            let id = doc.id.unwrap_or_else(|| self.ids.next(crate::now_ms()));
            let id_text = id.to_string();
            if doc.id.is_some() {
                c.execute(&format!("DELETE FROM {t} WHERE id = $1"), &[&id_text])
                    .await
                    .map_err(err)?;
            }
            c.execute(
                &insert,
                &[
                    &id_text,
                    &doc.source,
                    &doc.destination,
                    &doc.status.as_str(),
                    &i64::from(doc.tries),
                    &doc.topic,
                    &doc.label,
                    &kind_str(doc.payload.kind),
                    &doc.scheduled_time,
                    &doc.payload.data.as_ref(),
                ],
            )
            .await
            .map_err(err)?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// Every destination with messages and how many it has in each state, by destination: one
    /// grouped count over the table (the metrics sample it, not the hot path).
    pub async fn counts(&self) -> Result<Vec<(String, Counts)>, EngineError> {
        let (c, _) = self.general.get().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT destination, status, count(*) FROM {} GROUP BY destination, status \
                     ORDER BY destination",
                    self.table()
                ),
                &[],
            )
            .await
            .map_err(err)?;
        let mut out: Vec<(String, Counts)> = Vec::new();
        for row in rows {
            let dest: String = row.get(0);
            let status: String = row.get(1);
            let n = row.get::<_, i64>(2) as u64;
            if out.last().is_none_or(|(d, _)| *d != dest) {
                out.push((dest, Counts::default()));
            }
            let c = &mut out.last_mut().expect("pushed above").1;
            match status.as_str() {
                "processing" => c.processing += n,
                "processed" => c.processed += n,
                _ => c.pending += n,
            }
        }
        Ok(out)
    }

    /// Test hook: how many messages are stored.
    pub async fn hook_count(&self) -> Result<usize, EngineError> {
        let (c, _) = self.general.get().await?;
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {}", self.table()), &[])
            .await
            .map_err(err)?
            .get(0);
        Ok(n as usize)
    }

    /// Test hook: applies `update` to the first message (in FIFO order) that matches `filter`.
    pub async fn hook_update_first(
        &self,
        filter: &HookFilter,
        update: &HookUpdate,
    ) -> Result<Option<MessageId>, EngineError> {
        let (c, _) = self.general.get().await?;
        let t = self.table();
        let sql = format!(
            "UPDATE {t} m SET status = coalesce($5, m.status), tries = coalesce($6, m.tries), \
                scheduled_time_ms = coalesce($7, m.scheduled_time_ms), \
                processing_time_ms = CASE WHEN $5 = 'processing' \
                    THEN coalesce(m.processing_time_ms, {NOW_MS}) ELSE m.processing_time_ms END, \
                processed_time_ms = CASE WHEN $5 = 'processed' \
                    THEN coalesce(m.processed_time_ms, {NOW_MS}) ELSE m.processed_time_ms END, \
                update_time_ms = {NOW_MS} \
             FROM (SELECT seq FROM {t} WHERE ($1::text IS NULL OR id = $1) \
                AND ($2::text IS NULL OR source = $2) AND ($3::text IS NULL OR destination = $3) \
                AND ($4::text IS NULL OR status = $4) ORDER BY seq LIMIT 1 FOR UPDATE) f \
             WHERE m.seq = f.seq RETURNING m.id"
        );
        let id = filter.id.map(|i| i.to_string());
        let status = filter.status.map(|s| s.as_str());
        let new_status = update.status.map(|s| s.as_str());
        let tries = update.tries.map(i64::from);
        let params: [&(dyn ToSql + Sync); 7] = [
            &id,
            &filter.source,
            &filter.destination,
            &status,
            &new_status,
            &tries,
            &update.scheduled_time,
        ];
        let row = c.query_opt(&sql, &params).await.map_err(err)?;
        let Some(row) = row else { return Ok(None) };
        let id: &str = row.get(0);
        Ok(MessageId::parse(id).ok())
    }
}

/// Many clients' pushes in one statement, one commit.
async fn push_batch(conn: Arc<Conn>, reqs: Vec<PushReq>) -> Result<Vec<Message>, EngineError> {
    let (c, p) = conn.get().await?;
    let n = reqs.len();
    let mut ids = Vec::with_capacity(n);
    let mut src = Vec::with_capacity(n);
    let mut dst = Vec::with_capacity(n);
    let mut st = Vec::with_capacity(n);
    let mut lbl = Vec::with_capacity(n);
    let mut knd = Vec::with_capacity(n);
    let mut sch = Vec::with_capacity(n);
    let mut data = Vec::with_capacity(n);
    for (id, new) in &reqs {
        ids.push(id.to_string());
        src.push(new.source.as_str());
        dst.push(new.destination.as_str());
        st.push(new.status.as_str());
        lbl.push(new.label.as_str());
        knd.push(kind_str(new.payload.kind));
        sch.push(new.scheduled_time);
        data.push(new.payload.data.as_ref());
    }
    let rows = c
        .query(&p.push, &[&ids, &src, &dst, &st, &lbl, &knd, &sch, &data])
        .await
        .map_err(err)?;
    let mut made: HashMap<String, (i64, i64)> = HashMap::with_capacity(n);
    for row in &rows {
        made.insert(row.get(1), (row.get(0), row.get(2)));
    }
    let mut out = Vec::with_capacity(n);
    for ((id, new), text) in reqs.into_iter().zip(ids) {
        let (seq, created) = made
            .get(&text)
            .copied()
            .ok_or_else(|| err(PostgresError::NotInserted(text.clone())))?;
        out.push(Message {
            id,
            seq: seq as u64,
            source: new.source,
            destination: new.destination,
            status: new.status,
            tries: 0,
            topic: None,
            label: new.label,
            kind: new.payload.kind,
            created_time: created,
            update_time: None,
            scheduled_time: new.scheduled_time,
            processing_time: None,
            processed_time: None,
            error_time: None,
        });
    }
    Ok(out)
}

/// One claim for every waiting puller: per destination, as many of its oldest due messages as
/// clients wait for it, skipping rows other nodes hold.
async fn pull_batch(
    conn: Arc<Conn>,
    reqs: Vec<PullReq>,
) -> Result<Vec<Option<Stored>>, EngineError> {
    let (c, p) = conn.get().await?;
    let mut wanted: Vec<(String, i64)> = Vec::new();
    for node in &reqs {
        match wanted.iter_mut().find(|(d, _)| d == node) {
            Some((_, n)) => *n += 1,
            None => wanted.push((node.clone(), 1)),
        }
    }
    let dests: Vec<&str> = wanted.iter().map(|(d, _)| d.as_str()).collect();
    let counts: Vec<i64> = wanted.iter().map(|(_, n)| *n).collect();
    let rows = c.query(&p.pull, &[&dests, &counts]).await.map_err(err)?;
    let mut claimed: HashMap<String, Vec<Stored>> = HashMap::new();
    for row in &rows {
        let s = stored_from_row(row)?;
        claimed
            .entry(s.message.destination.clone())
            .or_default()
            .push(s);
    }
    // Oldest first to the client that asked first.
    for v in claimed.values_mut() {
        v.sort_by_key(|s| std::cmp::Reverse(s.message.seq));
    }
    Ok(reqs
        .iter()
        .map(|node| claimed.get_mut(node).and_then(Vec::pop))
        .collect())
}

/// Many clients' acks in one statement that locks its rows in `seq` order.
async fn ack_batch(conn: Arc<Conn>, reqs: Vec<AckReq>) -> Result<Vec<Option<Stored>>, EngineError> {
    let (c, p) = conn.get().await?;
    let ids: Vec<String> = reqs.iter().map(|(_, id)| id.to_string()).collect();
    let nodes: Vec<&str> = reqs.iter().map(|(n, _)| n.as_str()).collect();
    let rows = c.query(&p.ack, &[&ids, &nodes]).await.map_err(err)?;
    let mut done: HashMap<MessageId, Stored> = HashMap::new();
    for row in &rows {
        let s = stored_from_row(row)?;
        done.insert(s.message.id, s);
    }
    // The same message acked twice in one batch: the first ack takes it, as one at a time would.
    Ok(reqs
        .iter()
        .map(|(node, id)| match done.get(id) {
            Some(s) if &s.message.destination == node => done.remove(id),
            _ => None,
        })
        .collect())
}
