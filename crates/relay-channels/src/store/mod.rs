//! The hub's store: every record is loaded into memory at start; every change is written
//! through by one writer thread that batches whatever is queued into one transaction (group
//! commit), so a burst of messages costs one commit, not one each. Two backends hold the data:
//! `redb`, an embedded file (the default), and `postgres`, a PostgreSQL schema; the hub sees
//! the same [`Store`] either way.
//!
//! Callers that must not answer before the data is durable (accounts, tokens, services,
//! channels, groups) call [`Store::sync`]. Channel messages, memberships and UI state do not
//! block the hub: every change queued gets the next number of [`Commits`], the writer publishes
//! how far it has committed, and the transport holds the frames that follow a change (its
//! `copy`, its deliveries) until that number is durable.

mod files;
mod postgres;
mod redb;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::HubError;
use crate::model::{
    Account, Agent, Channel, Group, LogMeta, LoggedMessage, Service, Token, UiEntry,
};

pub use files::{FileError, Files, Stored, Upload};
pub(crate) use postgres::open as open_postgres;
pub use postgres::{host_name, OwnerInfo, PostgresError};
pub(crate) use redb::open as open_redb;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Table {
    Accounts,
    Tokens,
    Services,
    Agents,
    Channels,
    Groups,
    Ui,
}

impl Table {
    const ALL: [Table; 7] = [
        Table::Accounts,
        Table::Tokens,
        Table::Services,
        Table::Agents,
        Table::Channels,
        Table::Groups,
        Table::Ui,
    ];

    /// The record kind's name, as both backends call its table.
    fn name(self) -> &'static str {
        match self {
            Table::Accounts => "accounts",
            Table::Tokens => "tokens",
            Table::Services => "services",
            Table::Agents => "agents",
            Table::Channels => "channels",
            Table::Groups => "groups",
            Table::Ui => "ui_state",
        }
    }
}

enum Op {
    Put(Table, String, Vec<u8>),
    Del(Table, String),
    /// A channel message, encoded by the writer thread.
    PutMessage(Arc<LoggedMessage>),
    /// Deletes a channel's messages with offsets below the given one.
    TrimMessages(String, u64),
    /// A channel's log record; once committed, `confirm` (if any) is raised to the given offset.
    PutMeta(String, Vec<u8>, Option<(Arc<AtomicU64>, u64)>),
    Sync(mpsc::SyncSender<Result<(), String>>),
    /// A read of a channel's messages in `from..to`, answered after the batch it is in has
    /// been committed, by backends whose reads go through the writer (see [`Reads`]).
    Read(
        String,
        u64,
        u64,
        mpsc::SyncSender<Result<Vec<LoggedMessage>, String>>,
    ),
}

/// Set, once and for good, by a backend that found another hub owning its state, to who owns
/// it; a file-backed store never sets it.
pub(crate) type LostSignal = tokio::sync::watch::Sender<Option<String>>;

/// What a backend does for the writer thread.
trait Backend {
    /// Called when no batch has come for a while: a backend whose ownership can be taken from
    /// it checks here that it still has it.
    fn idle(&mut self) {}

    /// Commits a batch in one transaction: all of it or none.
    fn commit(&mut self, batch: &[Op]) -> Result<(), HubError>;

    /// A channel's messages with offsets in `from..to`, oldest first.
    fn read(
        &mut self,
        channel_id: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<LoggedMessage>, HubError>;
}

/// The UI state key: channel, user and kind joined by a separator no id contains.
pub(crate) fn ui_key(channel_id: &str, user_id: &str, kind: &str) -> String {
    format!("{channel_id}\u{1f}{user_id}\u{1f}{kind}")
}

/// What was in the store at start.
#[derive(Default)]
pub(crate) struct Loaded {
    pub epoch: String,
    pub accounts: Vec<Account>,
    pub tokens: Vec<(String, Token)>,
    pub services: Vec<Service>,
    pub agents: Vec<Agent>,
    pub channels: Vec<Channel>,
    pub groups: Vec<Group>,
    pub ui: Vec<(String, UiEntry)>,
    /// Per channel: its log as found in the store.
    pub logs: HashMap<String, LoadedLog>,
}

/// A channel's log at start.
pub(crate) struct LoadedLog {
    /// First retained offset.
    pub first: u64,
    /// Offset the next message gets: past every offset given before, even ones a crash lost.
    pub next: u64,
    /// The newest messages, oldest first.
    pub newest: Vec<LoggedMessage>,
    /// With `reserved` equal to `next`: a new reservation is needed before the next message.
    pub meta: LogMeta,
    /// The offsets this start found skipped by a crash, if it did.
    pub new_hole: Option<(u64, u64)>,
}

/// Where [`Store::read_messages`] reads.
enum Reads {
    /// Straight from the file: redb's readers never wait for its writer.
    Redb(Arc<::redb::Database>),
    /// Through the writer thread, which owns the backend's only connection.
    Writer,
}

pub(crate) struct Store {
    tx: mpsc::Sender<Op>,
    commits: Arc<Commits>,
    reads: Reads,
    /// Joined on drop where the writer holds something the next open needs (PostgreSQL's
    /// ownership lock goes with the writer's connection).
    writer: Option<std::thread::JoinHandle<()>>,
    /// Raised when another hub took the state (see [`LostSignal`]).
    lost: Arc<LostSignal>,
}

/// How far the store's writer has got. Every change queued for the writer counts one (in the
/// order the writer receives them); a frame that must not leave before the changes queued so
/// far are on disk is tagged with [`Commits::queued`] and released once [`Commits::durable`]
/// reaches its tag. One commit (one fsync) raises `durable` past every change it held.
#[derive(Debug)]
pub struct Commits {
    /// Changes queued so far.
    queued: AtomicU64,
    /// Changes committed so far (successfully or not: see `failed`).
    durable: AtomicU64,
    /// Bumped after every commit, for those waiting for `durable` to move.
    wake: tokio::sync::watch::Sender<u64>,
    /// Some commit failed: `failed` holds the tags that depend on a change it lost.
    any_failed: AtomicBool,
    /// Tag ranges `(after, upto]` of the commits that failed.
    failed: Mutex<Vec<(u64, u64)>>,
}

impl Default for Commits {
    fn default() -> Self {
        Self {
            queued: AtomicU64::new(0),
            durable: AtomicU64::new(0),
            wake: tokio::sync::watch::Sender::new(0),
            any_failed: AtomicBool::new(false),
            failed: Mutex::new(Vec::new()),
        }
    }
}

impl Commits {
    /// The tag of a frame that may leave only once every change queued so far is on disk.
    #[inline]
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::SeqCst)
    }

    /// Frames tagged up to this may leave (unless [`Commits::lost`] says otherwise).
    #[inline]
    pub fn durable(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }

    /// Whether the frame tagged `tag` follows a change that a failed commit lost: it must not
    /// leave as if the change were stored.
    #[inline]
    pub fn lost(&self, tag: u64) -> bool {
        self.any_failed.load(Ordering::Acquire)
            && self
                .failed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .any(|&(after, upto)| tag > after && tag <= upto)
    }

    /// Resolves once frames tagged `tag` may leave.
    pub async fn wait_for(&self, tag: u64) {
        if self.durable() >= tag {
            return;
        }
        let mut rx = self.wake.subscribe();
        while self.durable() < tag {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// A receiver that changes after every commit (to wait for [`Commits::durable`] to move).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.wake.subscribe()
    }

    fn committed(&self, count: u64, ok: bool) {
        let after = self.durable.load(Ordering::Acquire);
        if !ok {
            let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
            failed.push((after, after + count));
            // Only the newest failures matter to frames still waiting.
            if failed.len() > 64 {
                failed.remove(0);
            }
            self.any_failed.store(true, Ordering::Release);
        }
        self.durable.store(after + count, Ordering::Release);
        self.wake.send_replace(after + count);
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, HubError> {
    serde_json::from_slice(bytes).map_err(|e| HubError::Invalid(format!("corrupt record: {e}")))
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

impl Store {
    /// How far the writer has got (see [`Commits`]).
    pub(crate) fn commits(&self) -> &Arc<Commits> {
        &self.commits
    }

    /// Resolves, with who owns the state now, once this store has lost it to another hub;
    /// never for a store that cannot lose it.
    pub(crate) async fn lost(&self) -> String {
        let mut rx = self.lost.subscribe();
        loop {
            if let Some(owner) = rx.borrow_and_update().clone() {
                return owner;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Queues a change for the writer. Counted before it is sent, so that a frame tagged after
    /// it (see [`Commits::queued`]) is never released before it is committed.
    fn send(&self, op: Op) -> Result<(), mpsc::SendError<Op>> {
        self.commits.queued.fetch_add(1, Ordering::SeqCst);
        self.tx.send(op)
    }

    pub(crate) fn put<T: Serialize>(&self, table: Table, key: &str, value: &T) {
        let _ = self.send(Op::Put(table, key.to_owned(), encode(value)));
    }

    pub(crate) fn delete(&self, table: Table, key: &str) {
        let _ = self.send(Op::Del(table, key.to_owned()));
    }

    pub(crate) fn put_message(&self, msg: Arc<LoggedMessage>) {
        let _ = self.send(Op::PutMessage(msg));
    }

    /// Queues a channel's log record (see [`LogMeta`]); [`Store::sync`] makes it durable.
    pub(crate) fn put_log_meta(&self, channel_id: &str, meta: &LogMeta) {
        let _ = self.send(Op::PutMeta(channel_id.to_owned(), encode(meta), None));
    }

    /// Queues a channel's log record with a new reservation; `durable` is raised to
    /// `meta.reserved` once it is on disk.
    pub(crate) fn reserve_offsets(
        &self,
        channel_id: &str,
        meta: &LogMeta,
        durable: Arc<AtomicU64>,
    ) {
        let _ = self.send(Op::PutMeta(
            channel_id.to_owned(),
            encode(meta),
            Some((durable, meta.reserved)),
        ));
    }

    pub(crate) fn trim_messages(&self, channel_id: &str, below: u64) {
        let _ = self.send(Op::TrimMessages(channel_id.to_owned(), below));
    }

    /// Waits until everything queued before this call is committed.
    pub(crate) fn sync(&self) -> Result<(), HubError> {
        let (done_tx, done_rx) = mpsc::sync_channel(1);
        self.send(Op::Sync(done_tx))
            .map_err(|_| HubError::WriterGone)?;
        match done_rx.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(HubError::Invalid(format!("store commit failed: {e}"))),
            Err(_) => Err(HubError::WriterGone),
        }
    }

    /// Reads a channel's logged messages with offsets in `from..to`, oldest first.
    pub(crate) fn read_messages(
        &self,
        channel_id: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<LoggedMessage>, HubError> {
        match &self.reads {
            Reads::Redb(db) => redb::read_messages(db, channel_id, from, to),
            Reads::Writer => {
                let (done_tx, done_rx) = mpsc::sync_channel(1);
                self.send(Op::Read(channel_id.to_owned(), from, to, done_tx))
                    .map_err(|_| HubError::WriterGone)?;
                match done_rx.recv() {
                    Ok(Ok(v)) => Ok(v),
                    Ok(Err(e)) => Err(HubError::Invalid(format!("store read failed: {e}"))),
                    Err(_) => Err(HubError::WriterGone),
                }
            }
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            // The writer stops once its queue is drained and every sender is gone.
            drop(std::mem::replace(&mut self.tx, mpsc::channel().0));
            let _ = writer.join();
        }
    }
}

/// A channel's log as a backend found it: its oldest retained offset, its newest messages
/// (oldest first) and its record; `None` for a channel that never logged anything.
fn loaded_log_of(
    first: Option<u64>,
    newest: Vec<LoggedMessage>,
    meta: Option<LogMeta>,
) -> Option<LoadedLog> {
    if first.is_none() && meta.is_none() {
        return None;
    }
    Some(loaded_log(first, newest, meta.unwrap_or_default()))
}

/// The writer thread's loop, for either backend: takes whatever is queued (up to a bound) as
/// one batch, commits it, publishes how far it got and answers those waiting on the batch.
/// A failed commit is logged once until one succeeds again (an outage would otherwise log at
/// the rate of commits); its changes' tags are marked lost.
fn writer(mut backend: impl Backend, rx: mpsc::Receiver<Op>, commits: &Commits) {
    const MAX_BATCH: usize = 8192;
    /// How long the writer waits for a change before it lets the backend check itself.
    const IDLE_CHECK: std::time::Duration = std::time::Duration::from_secs(1);
    let mut failing = false;
    loop {
        let first = match rx.recv_timeout(IDLE_CHECK) {
            Ok(op) => op,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                backend.idle();
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let result = backend.commit(&batch);
        // Every channel commit is synced: its duration is the fsync's, near enough.
        metrics::histogram!("relay_store_commit_batch_size", "store" => "channels")
            .record(batch.len() as f64);
        metrics::histogram!("relay_store_fsync_duration_seconds", "store" => "channels")
            .record(started.elapsed().as_secs_f64());
        let result = result.map_err(|e| {
            if !failing {
                tracing::error!(
                    error = &e as &dyn std::error::Error,
                    "channel store commit failed; its changes are lost, and later failures are \
                     not logged until a commit succeeds again"
                );
            }
            // The waiters get the whole chain as text: the message no longer carries its cause.
            relay_wire::error_chain::ErrorChain(&e).to_string()
        });
        if failing && result.is_ok() {
            tracing::info!("channel store commits succeed again");
        }
        failing = result.is_err();
        // Before anyone waiting on a `Sync` is answered: what they send next comes after it.
        commits.committed(batch.len() as u64, result.is_ok());
        for op in batch {
            match op {
                Op::Sync(done) => {
                    let _ = done.send(result.clone());
                }
                Op::PutMeta(_, _, Some((durable, upto))) if result.is_ok() => {
                    durable.fetch_max(upto, Ordering::AcqRel);
                }
                Op::Read(channel_id, from, to, done) => {
                    let read = backend
                        .read(&channel_id, from, to)
                        .map_err(|e| relay_wire::error_chain::ErrorChain(&e).to_string());
                    let _ = done.send(read);
                }
                _ => {}
            }
        }
    }
}

fn loaded_log(first: Option<u64>, newest: Vec<LoggedMessage>, meta: LogMeta) -> LoadedLog {
    let bounds = log_bounds(first, newest.last().map(|m| m.offset), meta);
    LoadedLog {
        first: bounds.first,
        next: bounds.next,
        newest,
        meta: bounds.meta,
        new_hole: bounds.new_hole,
    }
}

struct LogBounds {
    first: u64,
    next: u64,
    meta: LogMeta,
    new_hole: Option<(u64, u64)>,
}

/// Where a channel's log starts and goes on, from its oldest and newest offsets on disk and
/// its record: after a crash (no clean stop) the offsets from the newest message on disk up to
/// the reservation become a hole, and the next message gets the first offset after it.
fn log_bounds(first: Option<u64>, newest: Option<u64>, mut meta: LogMeta) -> LogBounds {
    let after_newest = newest.map(|o| o + 1).or(first).unwrap_or(0);
    let next = after_newest.max(meta.reserved);
    let new_hole =
        (!meta.clean && after_newest < meta.reserved).then_some((after_newest, meta.reserved));
    meta.holes.extend(new_hole);
    let first = first.unwrap_or(next);
    meta.holes.retain(|&(_, end)| end > first);
    meta.reserved = next;
    LogBounds {
        first,
        next,
        meta,
        new_hole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(reserved: u64, clean: bool, holes: &[(u64, u64)]) -> LogMeta {
        LogMeta {
            reserved,
            clean,
            holes: holes.to_vec(),
        }
    }

    #[test]
    fn a_crash_skips_the_reserved_offsets_and_records_them_as_a_hole() {
        // Offsets 0..=5 on disk, 4096 reserved, no clean stop: 6.. may have been given.
        let b = log_bounds(Some(0), Some(5), meta(4096, false, &[]));
        assert_eq!((b.first, b.next, b.new_hole), (0, 4096, Some((6, 4096))));
        assert_eq!(b.meta, meta(4096, false, &[(6, 4096)]));
        // A new channel whose only messages were lost.
        let b = log_bounds(None, None, meta(4096, false, &[]));
        assert_eq!((b.first, b.next, b.new_hole), (4096, 4096, Some((0, 4096))));
    }

    #[test]
    fn a_clean_stop_skips_nothing() {
        let b = log_bounds(Some(0), Some(5), meta(6, true, &[]));
        assert_eq!((b.first, b.next, b.new_hole), (0, 6, None));
        // A store from before reservations existed: nothing reserved, nothing skipped.
        let b = log_bounds(Some(3), Some(9), LogMeta::default());
        assert_eq!((b.first, b.next, b.new_hole), (3, 10, None));
        // A crash before any message after the last start reserved anything.
        let b = log_bounds(Some(0), Some(5), meta(6, false, &[]));
        assert_eq!(b.new_hole, None);
    }

    #[test]
    fn holes_older_than_the_retained_history_are_dropped() {
        let b = log_bounds(
            Some(5000),
            Some(9000),
            meta(9001, true, &[(6, 4096), (4500, 5100)]),
        );
        assert_eq!(b.meta.holes, [(4500, 5100)]);
    }
}
