//! The PostgreSQL backend: the hub's state in one schema of a PostgreSQL database (tables in
//! `postgres/schema.rs`), loaded at open and written through by the store's writer thread,
//! which commits each batch of queued changes in ONE transaction (group commit, as on redb).
//!
//! The writer thread owns the only connection and drives it with tokio-postgres on a
//! current-thread runtime of its own: the hub calls the store from synchronous code that often
//! runs on a tokio worker (where neither the sync `postgres` crate nor a `block_on` may run), so
//! every call goes to that thread over a channel, reads of history older than the in-memory
//! window included. The driver is the one the queue's store uses, so no second one is built.
//!
//! One hub owns a schema's channel state at a time: the hub's memory is authoritative until
//! nodes tell each other of changes, so the writer's connection holds a session advisory lock
//! for as long as it lives, and a second open is refused with [`PostgresError::Owned`]. When the
//! owner dies, its connection and the lock go with it.
//!
//! A connection that breaks fails the batch it was committing (its tags are marked lost, so no
//! frame leaves as if its change were stored); the next batch reconnects, takes the lock again
//! and goes on. A batch that finds the connection closed before its transaction began is
//! retried once on a new one, since nothing of it reached the server. Should another hub have
//! taken the schema in between (the lock is taken, or the owner record in `channel_meta` bears
//! another hub's token: see `owner`), this hub has lost ownership for good: the store says so
//! through its lost signal, and this and every later commit fails without touching the
//! database, so nothing stale is written over the new owner's state and no frame leaves as if
//! stored.
//!
//! While no batch comes, the writer checks its connection about every second, so an owner
//! whose connection was cut learns within a second or so that it lost ownership, even if idle.
//! Its connection has TCP keepalives on both ends (see [`KEEPALIVE_IDLE`]), so that PostgreSQL
//! ends the session of an owner whose machine vanished, and frees the lock, in under half a
//! minute rather than the kernel's two hours.

mod error;
mod owner;
pub(super) mod schema;

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::{Client, NoTls, Statement};

use super::{
    decode, encode, loaded_log_of, writer, Backend, Commits, Loaded, LostSignal, Op, Reads, Store,
    Table,
};
use crate::error::HubError;
use crate::hub::HubConfig;
use crate::model::{LogMeta, LoggedMessage};
use relay_pg::Target;
use schema::{LOGS, MESSAGES, META};

pub use error::PostgresError;
use owner::OwnerRecord;
pub use owner::{host_name, OwnerInfo};

/// TCP keepalives of the owner's connection, set on the client's socket and (as
/// `tcp_keepalives_*`) on the server's: after this long without traffic a probe goes out,
/// then one every [`KEEPALIVE_INTERVAL`], and after [`KEEPALIVE_COUNT`] unanswered the peer is
/// taken for dead: 10 + 3 × 5 = 25 s. The server then ends the session and frees the lock.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEPALIVE_COUNT: u32 = 3;

/// How often, and how far apart, an open asks for the ownership lock before it gives up: a
/// previous owner that has just stopped may still be ending its session.
const OWNER_ATTEMPTS: u32 = 20;
const OWNER_RETRY: Duration = Duration::from_millis(50);

/// Connects, migrates, takes ownership and loads everything, with the newest messages of each
/// channel that its share of the newest messages' budget holds (as the embedded store loads
/// them); then hands the connection to the writer thread.
pub(crate) fn open(url: &str, cfg: &HubConfig, me: OwnerInfo) -> Result<(Store, Loaded), HubError> {
    let budget = Budget {
        per_channel: cfg.recent_in_memory,
        bytes: cfg.recent_bytes(),
    };
    let application = if me.node.is_empty() {
        "relay-channels".to_string()
    } else {
        format!("relay-channels {}", me.node)
    };
    let mut target = Target::parse(url, &application).map_err(PostgresError::from)?;
    target
        .config
        .keepalives(true)
        .keepalives_idle(KEEPALIVE_IDLE)
        .keepalives_interval(KEEPALIVE_INTERVAL)
        .keepalives_retries(KEEPALIVE_COUNT);
    let me = OwnerRecord {
        token: uuid::Uuid::new_v4().to_string(),
        info: me,
    };
    let lost = Arc::new(LostSignal::new(None));
    let writer_lost = lost.clone();
    let (tx, rx) = mpsc::channel();
    let (opened_tx, opened_rx) = mpsc::sync_channel(1);
    let commits = Arc::new(Commits::default());
    let writer_commits = commits.clone();
    let handle = std::thread::Builder::new()
        .name("channel-store".into())
        .spawn(move || {
            let mut backend = match Postgres::new(target, me, writer_lost) {
                Ok(b) => b,
                Err(e) => {
                    let _ = opened_tx.send(Err(e));
                    return;
                }
            };
            match backend.open(budget) {
                Ok(loaded) => {
                    let _ = opened_tx.send(Ok(loaded));
                }
                Err(e) => {
                    let _ = opened_tx.send(Err(e));
                    return;
                }
            }
            writer(backend, rx, &writer_commits);
        })?;
    let loaded = match opened_rx.recv() {
        Ok(Ok(loaded)) => loaded,
        failed => {
            let _ = handle.join();
            return Err(match failed {
                Ok(Err(e)) => e,
                _ => PostgresError::WriterGone.into(),
            });
        }
    };
    let store = Store {
        tx,
        commits,
        reads: Reads::Writer,
        writer: Some(handle),
        lost,
    };
    Ok((store, loaded))
}

/// The writer thread's side: its runtime and its connection, when it has one.
struct Postgres {
    rt: tokio::runtime::Runtime,
    target: Target,
    quoted: String,
    owner_key: String,
    conn: Option<Conn>,
    /// What this hub writes as the owner record.
    me: OwnerRecord,
    /// Set for good once another hub owns the state (see the module's doc).
    lost: Option<PostgresError>,
    signal: Arc<LostSignal>,
}

struct Conn {
    client: Client,
    sql: Statements,
    task: tokio::task::JoinHandle<()>,
}

/// The statements every connection prepares.
struct Statements {
    /// Per [`Table::ALL`]: upsert of `unnest(keys, values)`, delete of `ANY(keys)`.
    put: Vec<Statement>,
    del: Vec<Statement>,
    messages: Statement,
    trim: Statement,
    logs: Statement,
    read: Statement,
}

impl Statements {
    async fn prepare(c: &Client, s: &str) -> Result<Statements, tokio_postgres::Error> {
        let mut put = Vec::new();
        let mut del = Vec::new();
        for t in Table::ALL {
            let table = schema::table(t);
            put.push(
                c.prepare(&format!(
                    "INSERT INTO {s}.{table} (key, value) \
                     SELECT * FROM unnest($1::text[], $2::bytea[]) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ))
                .await?,
            );
            del.push(
                c.prepare(&format!(
                    "DELETE FROM {s}.{table} WHERE key = ANY($1::text[])"
                ))
                .await?,
            );
        }
        Ok(Statements {
            put,
            del,
            messages: c
                .prepare(&format!(
                    "INSERT INTO {s}.{MESSAGES} (channel_id, \"offset\", value) \
                     SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[]) \
                     ON CONFLICT (channel_id, \"offset\") DO UPDATE SET value = excluded.value"
                ))
                .await?,
            trim: c
                .prepare(&format!(
                    "DELETE FROM {s}.{MESSAGES} m USING unnest($1::text[], $2::bigint[]) \
                     AS t(channel_id, below) \
                     WHERE m.channel_id = t.channel_id AND m.\"offset\" < t.below"
                ))
                .await?,
            logs: c
                .prepare(&format!(
                    "INSERT INTO {s}.{LOGS} (channel_id, meta) \
                     SELECT * FROM unnest($1::text[], $2::bytea[]) \
                     ON CONFLICT (channel_id) DO UPDATE SET meta = excluded.meta"
                ))
                .await?,
            read: c
                .prepare(&format!(
                    "SELECT value FROM {s}.{MESSAGES} \
                     WHERE channel_id = $1 AND \"offset\" >= $2 AND \"offset\" < $3 \
                     ORDER BY \"offset\""
                ))
                .await?,
        })
    }
}

/// Why a commit failed: before its transaction began (nothing reached the server, so it may be
/// retried) or after.
enum Failed {
    BeforeBegin(PostgresError),
    During(PostgresError),
}

impl Failed {
    fn cause(self) -> PostgresError {
        match self {
            Failed::BeforeBegin(e) | Failed::During(e) => e,
        }
    }
}

/// Offsets are `u64` in the hub and `bigint` in the database; none comes near the limit.
fn sql_offset(o: u64) -> i64 {
    i64::try_from(o).unwrap_or(i64::MAX)
}

impl Postgres {
    fn new(target: Target, me: OwnerRecord, signal: Arc<LostSignal>) -> Result<Postgres, HubError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(PostgresError::Runtime)?;
        Ok(Postgres {
            rt,
            quoted: target.quoted_schema(),
            owner_key: format!("relay_channels_owner:{}", target.schema),
            target,
            conn: None,
            me,
            lost: None,
            signal,
        })
    }

    /// The first connection: migrates, takes ownership (waiting a little for a previous owner
    /// to leave), then loads.
    fn open(&mut self, budget: Budget) -> Result<Loaded, HubError> {
        let (target, quoted, key) = (&self.target, &self.quoted, &self.owner_key);
        let me = &self.me;
        let (conn, loaded) = self.rt.block_on(async {
            let (mut client, task) = connect(target).await?;
            let applied = schema::migrate(&mut client, target).await?;
            if applied > 0 {
                tracing::info!(schema = %target.schema, applied, "channel store: migrations applied");
            }
            take_ownership(&client, key, target, OWNER_ATTEMPTS).await?;
            write_owner(&client, quoted, me).await?;
            let loaded = load(&client, quoted, budget).await?;
            let sql = Statements::prepare(&client, quoted)
                .await
                .map_err(PostgresError::from)?;
            Ok::<_, HubError>((Conn { client, sql, task }, loaded))
        })?;
        self.conn = Some(conn);
        Ok(loaded)
    }

    /// A connection that holds the ownership lock, reconnecting if the last one broke.
    fn connected(&mut self) -> Result<(&tokio::runtime::Runtime, &mut Conn), PostgresError> {
        if let Some(lost) = &self.lost {
            return Err(PostgresError::Lost {
                schema: self.target.schema.clone(),
                why: lost.to_string(),
            });
        }
        if let Some(c) = &self.conn {
            // Lets the connection read what the server sent while the writer was idle (a
            // termination, say); a close it misses fails the next BEGIN, which is retried.
            self.rt.block_on(tokio::task::yield_now());
            if c.client.is_closed() {
                self.conn = None;
            }
        }
        let conn = match self.conn.take() {
            Some(c) => c,
            None => {
                let (target, quoted, key) = (&self.target, &self.quoted, &self.owner_key);
                let token = &self.me.token;
                let c = self.rt.block_on(async {
                    let (client, task) = connect(target).await?;
                    take_ownership(&client, key, target, 1).await?;
                    // The lock alone does not prove it: another hub may have owned the state
                    // and let it go while this one was away.
                    let owner = read_owner(&client, quoted).await?;
                    if owner.as_ref().map(|o| &o.token) != Some(token) {
                        return Err(PostgresError::Owned {
                            schema: target.schema.clone(),
                            holder: String::new(),
                            owner: owner.map(|o| Box::new(o.info)),
                        });
                    }
                    let sql = Statements::prepare(&client, quoted).await?;
                    Ok::<_, PostgresError>(Conn { client, sql, task })
                });
                let c = match c {
                    Ok(c) => c,
                    Err(e @ PostgresError::Owned { .. }) => return Err(self.lose(e)),
                    Err(e) => return Err(e),
                };
                tracing::info!(schema = %self.target.schema, "channel store: reconnected to PostgreSQL");
                c
            }
        };
        Ok((&self.rt, self.conn.insert(conn)))
    }

    /// Gives ownership up for good, telling the hub; returns the error for this call.
    fn lose(&mut self, owned: PostgresError) -> PostgresError {
        tracing::warn!(
            schema = %self.target.schema,
            error = %owned,
            "channel store: another hub owns the channel state now; this one stops writing"
        );
        let why = owned.to_string();
        self.signal.send_replace(Some(
            owned.owner_description().unwrap_or_else(|| why.clone()),
        ));
        self.lost = Some(owned);
        PostgresError::Lost {
            schema: self.target.schema.clone(),
            why,
        }
    }

    /// One attempt at a batch; a broken connection is dropped, for the next to replace.
    fn try_commit(&mut self, batch: &Folded<'_>) -> Result<(), Failed> {
        let (rt, conn) = self.connected().map_err(Failed::During)?;
        let r = rt.block_on(commit(&mut conn.client, &conn.sql, batch));
        if r.is_err() {
            self.conn = None;
        }
        r
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(Conn { client, sql, task }) = self.conn.take() {
            drop(sql);
            drop(client);
            // The connection ends its session (and releases the lock) once it has run.
            let _ = self.rt.block_on(task);
        }
    }
}

impl Backend for Postgres {
    fn commit(&mut self, batch: &[Op]) -> Result<(), HubError> {
        let folded = Folded::of(batch);
        if folded.is_empty() {
            // Only syncs: nothing to write, but during an outage they must not say all is well.
            if self.conn.is_none() {
                self.connected()?;
            }
            return Ok(());
        }
        match self.try_commit(&folded) {
            Ok(()) => Ok(()),
            Err(Failed::BeforeBegin(e)) => {
                tracing::debug!(error = %e, "channel store: connection found closed; committing on a new one");
                self.try_commit(&folded).map_err(|f| f.cause().into())
            }
            Err(f) => Err(f.cause().into()),
        }
    }

    /// A round trip on the connection, or a new connection if it broke, so that an owner
    /// that lost the state learns it while idle. An outage is left for the commits to report.
    fn idle(&mut self) {
        if self.lost.is_some() {
            return;
        }
        if let Some(c) = &self.conn {
            if self.rt.block_on(c.client.simple_query("")).is_ok() {
                return;
            }
            self.conn = None;
        }
        if let Err(e) = self.connected() {
            tracing::debug!(error = %e, "channel store: no connection while idle");
        }
    }

    fn read(
        &mut self,
        channel_id: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<LoggedMessage>, HubError> {
        let (rt, conn) = self.connected()?;
        let rows = rt.block_on(conn.client.query(
            &conn.sql.read,
            &[&channel_id, &sql_offset(from), &sql_offset(to)],
        ));
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                self.conn = None;
                return Err(PostgresError::from(e).into());
            }
        };
        rows.iter().map(|r| decode(r.get::<_, &[u8]>(0))).collect()
    }
}

/// A batch reduced to what its transaction writes: each record's last change, each channel's
/// last log record and highest trim, the messages in order.
#[derive(Default)]
struct Folded<'a> {
    /// Per table: key to the new value, `None` for a delete.
    records: HashMap<Table, HashMap<&'a str, Option<&'a [u8]>>>,
    messages: Vec<&'a LoggedMessage>,
    trims: HashMap<&'a str, u64>,
    logs: HashMap<&'a str, &'a [u8]>,
}

impl<'a> Folded<'a> {
    fn of(batch: &'a [Op]) -> Folded<'a> {
        let mut f = Folded::default();
        for op in batch {
            match op {
                Op::Put(t, k, v) => {
                    f.records.entry(*t).or_default().insert(k, Some(v));
                }
                Op::Del(t, k) => {
                    f.records.entry(*t).or_default().insert(k, None);
                }
                Op::PutMessage(m) => f.messages.push(m),
                Op::TrimMessages(ch, below) => {
                    let b = f.trims.entry(ch).or_default();
                    *b = (*b).max(*below);
                }
                Op::PutMeta(ch, v, _) => {
                    f.logs.insert(ch, v);
                }
                Op::Sync(_) | Op::Read(..) => {}
            }
        }
        f
    }

    fn is_empty(&self) -> bool {
        self.records.is_empty()
            && self.messages.is_empty()
            && self.trims.is_empty()
            && self.logs.is_empty()
    }
}

/// The batch in one transaction. Trims run after the inserts: a message and the trim that
/// drops it may share a batch, and offsets only grow, so no insert lands below a trim.
async fn commit(client: &mut Client, sql: &Statements, batch: &Folded<'_>) -> Result<(), Failed> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| Failed::BeforeBegin(e.into()))?;
    let during = |e: tokio_postgres::Error| Failed::During(e.into());
    for (i, t) in Table::ALL.iter().enumerate() {
        let Some(changes) = batch.records.get(t) else {
            continue;
        };
        let (mut keys, mut values, mut gone) = (Vec::new(), Vec::new(), Vec::new());
        for (k, v) in changes {
            match v {
                Some(v) => {
                    keys.push(*k);
                    values.push(*v);
                }
                None => gone.push(*k),
            }
        }
        if !keys.is_empty() {
            tx.execute(&sql.put[i], &[&keys, &values])
                .await
                .map_err(during)?;
        }
        if !gone.is_empty() {
            tx.execute(&sql.del[i], &[&gone]).await.map_err(during)?;
        }
    }
    if !batch.messages.is_empty() {
        let channels: Vec<&str> = batch
            .messages
            .iter()
            .map(|m| m.body.channel_id.as_str())
            .collect();
        let offsets: Vec<i64> = batch
            .messages
            .iter()
            .map(|m| sql_offset(m.offset))
            .collect();
        let values: Vec<Vec<u8>> = batch.messages.iter().map(|m| encode(*m)).collect();
        tx.execute(&sql.messages, &[&channels, &offsets, &values])
            .await
            .map_err(during)?;
    }
    if !batch.trims.is_empty() {
        let (channels, below): (Vec<&str>, Vec<i64>) = batch
            .trims
            .iter()
            .map(|(c, b)| (*c, sql_offset(*b)))
            .unzip();
        tx.execute(&sql.trim, &[&channels, &below])
            .await
            .map_err(during)?;
    }
    if !batch.logs.is_empty() {
        let (channels, metas): (Vec<&str>, Vec<&[u8]>) =
            batch.logs.iter().map(|(c, m)| (*c, *m)).unzip();
        tx.execute(&sql.logs, &[&channels, &metas])
            .await
            .map_err(during)?;
    }
    tx.commit().await.map_err(during)
}

/// A new connection, driven by a task of the writer's runtime until its client is dropped or
/// the server goes away (which its client then reports).
async fn connect(target: &Target) -> Result<(Client, tokio::task::JoinHandle<()>), PostgresError> {
    let (client, connection) = target.config.connect(NoTls).await?;
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    // The server's side of the keepalives: it is the server that must notice a dead owner.
    client
        .batch_execute(&format!(
            "SET tcp_keepalives_idle = {}; SET tcp_keepalives_interval = {}; \
             SET tcp_keepalives_count = {KEEPALIVE_COUNT}",
            KEEPALIVE_IDLE.as_secs(),
            KEEPALIVE_INTERVAL.as_secs()
        ))
        .await?;
    Ok((client, task))
}

/// Records this hub as the owner, with a new token (see `owner`).
async fn write_owner(client: &Client, s: &str, me: &OwnerRecord) -> Result<(), PostgresError> {
    client
        .execute(
            &format!(
                "INSERT INTO {s}.{META} (key, value) VALUES ('owner', $1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            ),
            &[&encode(me)],
        )
        .await?;
    Ok(())
}

/// The owner record, if any hub wrote one and it reads.
async fn read_owner(client: &Client, s: &str) -> Result<Option<OwnerRecord>, PostgresError> {
    let row = client
        .query_opt(
            &format!("SELECT value FROM {s}.{META} WHERE key = 'owner'"),
            &[],
        )
        .await?;
    Ok(row.and_then(|r| serde_json::from_slice(r.get::<_, &[u8]>(0)).ok()))
}

/// Takes the session advisory lock that makes this connection's hub the owner, asking up to
/// `attempts` times.
async fn take_ownership(
    client: &Client,
    key: &str,
    target: &Target,
    attempts: u32,
) -> Result<(), PostgresError> {
    for attempt in 1..=attempts {
        let locked: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                &[&key],
            )
            .await?
            .get(0);
        if locked {
            return Ok(());
        }
        if attempt < attempts {
            tokio::time::sleep(OWNER_RETRY).await;
        }
    }
    // The schema may not exist yet when a reconnect races a migration elsewhere; then the
    // refusal just names no owner.
    let owner = read_owner(client, &target.quoted_schema())
        .await
        .ok()
        .flatten()
        .map(|o| Box::new(o.info));
    Err(PostgresError::Owned {
        schema: target.schema.clone(),
        holder: lock_holder(client, key).await,
        owner,
    })
}

/// "PostgreSQL backend pid N, application A, from ADDR" for the refusal, when the server
/// tells.
async fn lock_holder(client: &Client, key: &str) -> String {
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
            &[&key],
        )
        .await;
    match row {
        Ok(Some(r)) => {
            let pid: i32 = r.get(0);
            let app: String = r.get(1);
            let from: String = r.get(2);
            format!("PostgreSQL backend pid {pid}, application `{app}`, from {from}")
        }
        _ => String::new(),
    }
}

/// How many of each channel's newest messages a load reads.
#[derive(Clone, Copy)]
struct Budget {
    /// At most this many per channel (`recent_in_memory`).
    per_channel: usize,
    /// The newest messages' share of the memory budget, for all channels together.
    bytes: usize,
}

/// Everything, as the embedded store's `load` reads it; the epoch is made on the first open.
async fn load(client: &Client, s: &str, budget: Budget) -> Result<Loaded, HubError> {
    let pg = |e: tokio_postgres::Error| HubError::from(PostgresError::from(e));
    client
        .execute(
            &format!(
                "INSERT INTO {s}.{META} (key, value) VALUES ('epoch', $1) ON CONFLICT DO NOTHING"
            ),
            &[&uuid::Uuid::new_v4().to_string().as_bytes()],
        )
        .await
        .map_err(pg)?;
    let epoch: Vec<u8> = client
        .query_one(
            &format!("SELECT value FROM {s}.{META} WHERE key = 'epoch'"),
            &[],
        )
        .await
        .map_err(pg)?
        .get(0);
    let mut records: HashMap<Table, Vec<(String, Vec<u8>)>> = HashMap::new();
    for t in Table::ALL {
        let rows = client
            .query(
                &format!("SELECT key, value FROM {s}.{}", schema::table(t)),
                &[],
            )
            .await
            .map_err(pg)?;
        records.insert(t, rows.iter().map(|r| (r.get(0), r.get(1))).collect());
    }
    let mut take = |t: Table| records.remove(&t).unwrap_or_default();
    fn values<T: serde::de::DeserializeOwned>(
        rows: Vec<(String, Vec<u8>)>,
    ) -> Result<Vec<T>, HubError> {
        rows.iter().map(|(_, v)| decode(v)).collect()
    }
    fn keyed<T: serde::de::DeserializeOwned>(
        rows: Vec<(String, Vec<u8>)>,
    ) -> Result<Vec<(String, T)>, HubError> {
        rows.into_iter()
            .map(|(k, v)| Ok((k, decode(&v)?)))
            .collect()
    }
    let mut out = Loaded {
        epoch: String::from_utf8_lossy(&epoch).into_owned(),
        accounts: values(take(Table::Accounts))?,
        tokens: keyed(take(Table::Tokens))?,
        services: values(take(Table::Services))?,
        agents: values(take(Table::Agents))?,
        channels: values(take(Table::Channels))?,
        groups: values(take(Table::Groups))?,
        ui: keyed(take(Table::Ui))?,
        logs: HashMap::new(),
    };
    let mut metas: HashMap<String, LogMeta> = HashMap::new();
    for r in client
        .query(&format!("SELECT channel_id, meta FROM {s}.{LOGS}"), &[])
        .await
        .map_err(pg)?
    {
        metas.insert(r.get(0), decode(r.get::<_, &[u8]>(1))?);
    }
    let ids: Vec<&str> = out.channels.iter().map(|c| c.channel_id.as_str()).collect();
    let mut firsts: HashMap<String, u64> = HashMap::new();
    for r in client
        .query(
            &format!(
                "SELECT id, (SELECT min(\"offset\") FROM {s}.{MESSAGES} WHERE channel_id = id) \
                 FROM unnest($1::text[]) AS id"
            ),
            &[&ids],
        )
        .await
        .map_err(pg)?
    {
        if let Some(first) = r.get::<_, Option<i64>>(1) {
            firsts.insert(r.get(0), first as u64);
        }
    }
    // Each channel's newest messages while their encoded bytes fit its share of the budget
    // (encoded, a message takes about half of what it takes in memory), the newest one always
    // (it says where the log goes on), at most `per_channel`: what the hub would keep of them
    // anyway, so that a takeover with many channels or long histories does not read (and
    // hold, until the hub trims it) 1,024 messages per channel. `octet_length` reads a value's
    // stored length without fetching it.
    let share = (budget.bytes / 2 / out.channels.len().max(1)) as i64;
    let limit = budget.per_channel.max(1) as i64;
    let mut newest: HashMap<String, Vec<LoggedMessage>> = HashMap::new();
    for r in client
        .query(
            &format!(
                "SELECT id, m.value FROM unnest($1::text[]) AS id CROSS JOIN LATERAL \
                 (SELECT \"offset\", value, \
                         row_number() OVER w AS n, sum(octet_length(value)) OVER w AS upto \
                  FROM (SELECT \"offset\", value FROM {s}.{MESSAGES} WHERE channel_id = id \
                        ORDER BY \"offset\" DESC LIMIT $2) t \
                  WINDOW w AS (ORDER BY \"offset\" DESC)) m \
                 WHERE m.n = 1 OR m.upto <= $3 ORDER BY id, m.\"offset\""
            ),
            &[&ids, &limit, &share],
        )
        .await
        .map_err(pg)?
    {
        newest
            .entry(r.get(0))
            .or_default()
            .push(decode(r.get::<_, &[u8]>(1))?);
    }
    for ch in &out.channels {
        let id = ch.channel_id.as_str();
        let log = loaded_log_of(
            firsts.get(id).copied(),
            newest.remove(id).unwrap_or_default(),
            metas.remove(id),
        );
        if let Some(log) = log {
            out.logs.insert(ch.channel_id.clone(), log);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_folds_to_each_records_last_change_and_each_channels_highest_trim() {
        let batch = vec![
            Op::Put(Table::Accounts, "a".into(), b"1".to_vec()),
            Op::Put(Table::Accounts, "a".into(), b"2".to_vec()),
            Op::Put(Table::Tokens, "t".into(), b"x".to_vec()),
            Op::Del(Table::Tokens, "t".into()),
            Op::TrimMessages("c".into(), 10),
            Op::TrimMessages("c".into(), 7),
            Op::PutMeta("c".into(), b"old".to_vec(), None),
            Op::PutMeta("c".into(), b"new".to_vec(), None),
        ];
        let f = Folded::of(&batch);
        assert_eq!(f.records[&Table::Accounts]["a"], Some(&b"2"[..]));
        assert_eq!(f.records[&Table::Tokens]["t"], None);
        assert_eq!(f.trims["c"], 10);
        assert_eq!(f.logs["c"], b"new");
        assert!(f.messages.is_empty());
    }

    #[test]
    fn a_batch_of_syncs_writes_nothing() {
        let (tx, _rx) = mpsc::sync_channel(1);
        assert!(Folded::of(&[Op::Sync(tx)]).is_empty());
    }
}
