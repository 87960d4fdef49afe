//! The embedded store: one redb file with a table of system data and a table of payloads, both
//! keyed by `seq`, so that a state change rewrites a small record and never the payload; and a
//! write-ahead journal beside it (`journal`), which is what a durable commit syncs.
//!
//! A commit writes its changes to the journal (and syncs it when asked to be durable), then
//! applies them to redb without syncing, where reads see them at once. Every
//! `CHECKPOINT_INTERVAL`, or when the journal is full, a commit goes to redb durably instead,
//! which makes everything before it durable in redb, and the journal starts over. Opening the
//! store replays the journal's records into redb, so it holds every commit that returned.
//! Replaying is safe however much of it redb already has: each change sets a record to a
//! value (or removes it), and the records are applied in the order they were made.

mod batch;
mod journal;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Change, Store, StoreError};
use crate::message::{IndexRecord, Message, MessageView};
use batch::Encoded;
use journal::Journal;

const META: TableDefinition<u64, &[u8]> = TableDefinition::new("message_meta");
const PAYLOAD: TableDefinition<u64, &[u8]> = TableDefinition::new("message_payload");

/// The journal's size. It is written in full when created, so that syncing a record never has
/// to sync file metadata as well; a commit larger than this goes straight to redb.
const JOURNAL_CAPACITY: u64 = 16 << 20;
/// How long redb may go without a durable commit: bounds the journal replay at start-up and the
/// pages redb holds for changes it has not synced.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(2);
/// How much of the journal one replay transaction takes.
const REPLAY_GROUP_BYTES: usize = 4 << 20;
/// redb's page cache unless the caller sizes it.
const DEFAULT_PAGE_CACHE: usize = 32 << 20;

pub struct RedbStore {
    db: Database,
    journal: Mutex<JournalState>,
}

struct JournalState {
    journal: Journal,
    last_checkpoint: Instant,
    /// Records written since the last sync.
    unsynced: bool,
}

impl RedbStore {
    /// Opens (or creates) the store at `path`, with its journal beside it, and replays the
    /// journal into redb; redb caches up to `DEFAULT_PAGE_CACHE` of its pages.
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        RedbStore::open_with_cache(path, DEFAULT_PAGE_CACHE)
    }

    /// As `open`, with redb's page cache (pages read, and pages written but not yet synced)
    /// bounded by `cache_bytes`. redb's own default is 1 GiB, which a deep queue would fill:
    /// memory would then grow with the data again, only one layer down.
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<RedbStore, StoreError> {
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(path)
            .map_err(redb::Error::from)?;
        let txn = db.begin_write().map_err(redb::Error::from)?;
        txn.open_table(META).map_err(redb::Error::from)?;
        txn.open_table(PAYLOAD).map_err(redb::Error::from)?;
        txn.commit().map_err(redb::Error::from)?;

        let (mut journal, bodies) = Journal::open(&journal_path(path), JOURNAL_CAPACITY)?;
        let mut replayed = 0;
        // Records go to redb a few MiB at a time rather than one transaction each: a journal
        // of small group commits holds thousands of them, and replaying them one by one was
        // most of a restart's time. Only the order matters, and that is kept.
        let mut group: Vec<Change> = Vec::new();
        let mut group_bytes = 0;
        for (i, body) in bodies.iter().enumerate() {
            let changes = batch::from_body(body)?;
            replayed += changes.len();
            group.extend(changes);
            group_bytes += body.len();
            if group_bytes >= REPLAY_GROUP_BYTES || i + 1 == bodies.len() {
                apply(&db, &batch::encode_changes(&group)?, redb::Durability::None)?;
                group.clear();
                group_bytes = 0;
            }
        }
        // Always durable and always a new generation, even with nothing replayed: see
        // `Journal::reset`.
        checkpoint(&db, &mut journal, &[])?;
        if replayed > 0 {
            tracing::info!(
                records = bodies.len(),
                changes = replayed,
                "queue journal replayed"
            );
        }
        let journal = JournalState {
            journal,
            last_checkpoint: Instant::now(),
            unsynced: false,
        };
        Ok(RedbStore {
            db,
            journal: Mutex::new(journal),
        })
    }
}

fn journal_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".journal");
    db.with_file_name(name)
}

/// Commits `changes` to redb durably, which makes every earlier non-durable commit durable too,
/// and then starts the journal's next generation, since its records are now redundant.
fn checkpoint(
    db: &Database,
    journal: &mut Journal,
    changes: &[Encoded<'_>],
) -> Result<(), StoreError> {
    apply(db, changes, redb::Durability::Immediate)?;
    journal.reset()?;
    Ok(())
}

/// Applies changes to redb in one write transaction.
fn apply(
    db: &Database,
    changes: &[Encoded<'_>],
    durability: redb::Durability,
) -> Result<(), StoreError> {
    let mut txn = db.begin_write().map_err(redb::Error::from)?;
    txn.set_durability(durability).map_err(redb::Error::from)?;
    {
        let mut meta = txn.open_table(META).map_err(redb::Error::from)?;
        let mut payloads = txn.open_table(PAYLOAD).map_err(redb::Error::from)?;
        for change in changes {
            match change {
                Encoded::Put {
                    seq,
                    meta: bytes,
                    payload,
                } => {
                    meta.insert(*seq, bytes.as_slice())
                        .map_err(redb::Error::from)?;
                    if let Some(p) = payload {
                        payloads.insert(*seq, *p).map_err(redb::Error::from)?;
                    }
                }
                Encoded::Delete { seq } => {
                    meta.remove(seq).map_err(redb::Error::from)?;
                    payloads.remove(seq).map_err(redb::Error::from)?;
                }
                Encoded::Clear => {
                    meta.retain(|_, _| false).map_err(redb::Error::from)?;
                    payloads.retain(|_, _| false).map_err(redb::Error::from)?;
                }
            }
        }
    }
    txn.commit().map_err(redb::Error::from)?;
    Ok(())
}

impl Store for RedbStore {
    fn load(&self) -> Result<Vec<Message>, StoreError> {
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        let table = txn.open_table(META).map_err(redb::Error::from)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(redb::Error::from)? {
            let (_, value) = row.map_err(redb::Error::from)?;
            out.push(postcard::from_bytes(value.value())?);
        }
        Ok(out)
    }

    fn scan(&self, each: &mut dyn FnMut(IndexRecord<'_>)) -> Result<(), StoreError> {
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        let table = txn.open_table(META).map_err(redb::Error::from)?;
        for row in table.iter().map_err(redb::Error::from)? {
            let (_, value) = row.map_err(redb::Error::from)?;
            let view: MessageView<'_> = postcard::from_bytes(value.value())?;
            each(view.record());
        }
        Ok(())
    }

    fn count_hint(&self) -> usize {
        use redb::ReadableTableMetadata;
        let count = || -> Result<u64, redb::Error> {
            let txn = self.db.begin_read()?;
            Ok(txn.open_table(META)?.len()?)
        };
        count().unwrap_or(0) as usize
    }

    fn read_message(&self, seq: u64) -> Result<Option<(Message, Bytes)>, StoreError> {
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        let meta = txn.open_table(META).map_err(redb::Error::from)?;
        let Some(record) = meta.get(seq).map_err(redb::Error::from)? else {
            return Ok(None);
        };
        let message: Message = postcard::from_bytes(record.value())?;
        let payloads = txn.open_table(PAYLOAD).map_err(redb::Error::from)?;
        let payload = payloads
            .get(seq)
            .map_err(redb::Error::from)?
            .map_or_else(Bytes::new, |v| Bytes::copy_from_slice(v.value()));
        Ok(Some((message, payload)))
    }

    fn read_records(&self, seqs: &[u64]) -> Result<Vec<Option<Message>>, StoreError> {
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        let meta = txn.open_table(META).map_err(redb::Error::from)?;
        seqs.iter()
            .map(|&seq| match meta.get(seq).map_err(redb::Error::from)? {
                Some(v) => Ok(Some(postcard::from_bytes(v.value())?)),
                None => Ok(None),
            })
            .collect()
    }

    fn commit(&self, changes: &[Change], durable: bool) -> Result<(), StoreError> {
        let mut st = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        let encoded = batch::encode_changes(changes)?;
        let body = (!changes.is_empty()).then(|| batch::to_body(&encoded));
        let due = st.last_checkpoint.elapsed() >= CHECKPOINT_INTERVAL && !st.journal.is_empty();
        if due || body.as_ref().is_some_and(|b| !st.journal.fits(b.len())) {
            checkpoint(&self.db, &mut st.journal, &encoded)?;
            st.last_checkpoint = Instant::now();
            st.unsynced = false;
            return Ok(());
        }
        if let Some(body) = &body {
            st.journal.append(body)?;
            st.unsynced = true;
        }
        if durable && st.unsynced {
            st.journal.sync()?;
            st.unsynced = false;
        }
        if !encoded.is_empty() {
            apply(&self.db, &encoded, redb::Durability::None)?;
        }
        Ok(())
    }

    fn reads_in_place(&self) -> bool {
        true
    }

    fn read_payload(&self, seq: u64) -> Result<Option<Bytes>, StoreError> {
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        let table = txn.open_table(PAYLOAD).map_err(redb::Error::from)?;
        let value = table.get(seq).map_err(redb::Error::from)?;
        Ok(value.map(|v| Bytes::copy_from_slice(v.value())))
    }
}

impl Drop for RedbStore {
    /// A clean close leaves nothing to replay.
    fn drop(&mut self) {
        let st = self.journal.get_mut().unwrap_or_else(|e| e.into_inner());
        if st.journal.is_empty() {
            return;
        }
        if let Err(err) = checkpoint(&self.db, &mut st.journal, &[]) {
            tracing::error!(
                error = &err as &dyn std::error::Error,
                "queue store checkpoint at close failed; the journal will be replayed"
            );
        }
    }
}
