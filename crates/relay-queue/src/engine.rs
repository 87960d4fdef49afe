//! The queue's operations. Each one changes the in-memory index and queues the same change for
//! the writer under one lock, so the disk sees changes in the order clients saw them; the caller
//! is answered only after the writer has committed.
//!
//! The index holds only what decisions need; a whole record (to change it or to answer with it)
//! comes from the cache, else from the store, which then has every committed version: the
//! versions not committed yet are pinned in the cache until their commit is answered.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use relay_wire::queue::{MessageId, Payload, Status};

use crate::cache::Cache;
use crate::error::EngineError;
use crate::ids::IdGenerator;
use crate::index::{Counts, Entry, Index, NodeId};
use crate::message::{Message, NewMessage};
use crate::now_ms;
use crate::store::{Change, Durability, Store, StoreError};
use crate::writer::{Submitted, Writer};

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// A pulled message not acked within this time goes back to pending. `None` keeps it in
    /// processing forever, as the original does.
    pub visibility_timeout: Option<Duration>,
    /// Processed messages are deleted this long after their ack. `None` keeps them until a
    /// client deletes them, as the original does.
    pub processed_retention: Option<Duration>,
    pub durability: Durability,
    /// The most the cache of records and payloads may hold, in bytes (records written and not
    /// yet committed may take it past that for a moment).
    pub cache_bytes: usize,
}

/// The cache's size unless the operator sets another.
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            visibility_timeout: Some(Duration::from_secs(300)),
            processed_retention: Some(Duration::from_secs(3600)),
            durability: Durability::Immediate,
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

/// Who may update or delete a message: the two client generations have different rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// v1: the sender or the receiver, in any status.
    Involved,
    /// v2: only the sender, and only while the message waits (pending or scheduled).
    SenderWhileWaiting,
}

impl Access {
    fn allows(self, e: &Entry, node: NodeId) -> bool {
        match self {
            Access::Involved => e.involves(node),
            Access::SenderWhileWaiting => e.source == node && e.status.is_waiting(),
        }
    }
}

/// What the engine holds in memory, for the benchmarks and the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryUse {
    pub messages: usize,
    /// The index's heap, all messages together.
    pub index_bytes: usize,
    /// The cache, by the count its bound is checked against.
    pub cache_bytes: usize,
    pub cached_messages: usize,
}

/// A message with its payload, as read back from the store.
#[derive(Debug, Clone)]
pub struct Stored {
    pub message: Message,
    pub payload: Payload,
}

/// A document inserted through the test hooks: no validation, status as given.
#[derive(Debug, Clone)]
pub struct HookDoc {
    pub id: Option<MessageId>,
    pub source: String,
    pub destination: String,
    pub status: Status,
    pub label: String,
    pub payload: Payload,
    pub scheduled_time: Option<i64>,
    pub tries: u32,
    pub topic: Option<String>,
}

/// Field equality filter of the test hooks.
#[derive(Debug, Clone, Default)]
pub struct HookFilter {
    pub id: Option<MessageId>,
    pub source: Option<String>,
    pub destination: Option<String>,
    pub status: Option<Status>,
}

#[derive(Debug, Clone, Default)]
pub struct HookUpdate {
    pub status: Option<Status>,
    pub tries: Option<u32>,
    pub scheduled_time: Option<i64>,
}

struct State {
    index: Index,
    cache: Cache,
    next_seq: u64,
}

impl State {
    /// The whole record of an indexed message, and its payload when at hand: from the cache,
    /// else from the store, whose read is cached.
    fn read(
        &mut self,
        store: &dyn Store,
        seq: u64,
    ) -> Result<Option<(Message, Option<Bytes>)>, StoreError> {
        if let Some(m) = self.cache.get(seq) {
            let m = m.clone();
            return Ok(Some((m, self.cache.payload(seq))));
        }
        let Some((m, payload)) = store.read_message(seq)? else {
            return Ok(None);
        };
        self.cache.put(m.clone(), Some(payload.clone()), false);
        Ok(Some((m, Some(payload))))
    }

    /// Applies a changed message to the index and the cache, pinned there until its commit.
    fn write(&mut self, msg: &Message, payload: Option<Bytes>) {
        self.index.put(&msg.index_record());
        self.cache.put(msg.clone(), payload, true);
    }

    fn entry_by_id(&self, id: &MessageId) -> Option<Entry> {
        self.index.get(id)
    }
}

pub struct Engine {
    state: Mutex<State>,
    writer: Writer,
    store: Arc<dyn Store>,
    ids: IdGenerator,
    config: EngineConfig,
}

impl Engine {
    /// Loads every stored message and starts the writer.
    pub fn open(store: Arc<dyn Store>, config: EngineConfig) -> Result<Arc<Engine>, EngineError> {
        let started = std::time::Instant::now();
        let mut index = Index::default();
        store.scan(&mut |rec| index.put(&rec))?;
        let next_seq = index.last_seq().map_or(1, |s| s + 1);
        tracing::info!(
            messages = index.len(),
            index_bytes = index.heap_bytes(),
            index_parts = %index
                .heap_parts()
                .iter()
                .map(|(name, b)| format!("{name}:{b}"))
                .collect::<Vec<_>>()
                .join(","),
            took_ms = started.elapsed().as_millis() as u64,
            "queue store loaded"
        );
        let cache = Cache::new(config.cache_bytes);
        let writer = Writer::spawn(store.clone(), config.durability)
            .map_err(|e| EngineError::Store(e.into()))?;
        Ok(Arc::new(Engine {
            state: Mutex::new(State {
                index,
                cache,
                next_seq,
            }),
            writer,
            store,
            ids: IdGenerator::new(),
            config,
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the index as consistent as any single operation
        // left it; keep serving rather than poisoning every later request.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn committed(rx: Submitted<'_>) -> Result<(), EngineError> {
        match rx.wait().await {
            Some(Ok(())) => Ok(()),
            Some(Err(err)) => Err(EngineError::Store(
                Arc::try_unwrap(err)
                    .unwrap_or_else(|e| StoreError::Io(std::io::Error::other(e.to_string()))),
            )),
            None => Err(EngineError::Closed),
        }
    }

    /// Waits for the commit of `written`. When the store refuses it the client hears the
    /// change failed, so memory goes back to what the disk holds (`previous`, or no message for
    /// a push), unless a later operation has changed the message since.
    async fn committed_or_undone(
        &self,
        written: &Message,
        previous: Option<Message>,
        rx: Submitted<'_>,
    ) -> Result<(), EngineError> {
        let result = Self::committed(rx).await;
        let mut st = self.lock();
        if result.is_err() && st.cache.peek(written.seq) == Some(written) {
            match previous {
                Some(p) => st.index.put(&p.index_record()),
                None => {
                    st.index.remove(written.seq);
                }
            }
            // The store has the version before: the next reader takes it from there.
            st.cache.remove(written.seq);
        } else {
            st.cache.unpin(written.seq);
        }
        result
    }

    /// Waits for a commit of puts and lets their records be evicted again.
    async fn committed_unpin(&self, pinned: &[u64], rx: Submitted<'_>) -> Result<(), EngineError> {
        let result = Self::committed(rx).await;
        if !pinned.is_empty() {
            let mut st = self.lock();
            for &seq in pinned {
                st.cache.unpin(seq);
            }
        }
        result
    }

    /// The payload of a message whose own change is committed: from the cache, else the store.
    async fn payload_of(&self, seq: u64, at_hand: Option<Bytes>) -> Result<Bytes, EngineError> {
        if let Some(p) = at_hand {
            return Ok(p);
        }
        if let Some(p) = self.lock().cache.payload(seq) {
            return Ok(p);
        }
        // A message deleted between its change and this read keeps an empty payload.
        self.read_store(move |store| store.read_payload(seq).map(Option::unwrap_or_default))
            .await
    }

    /// Runs a store read where it is cheap enough: in place when the store says so, else on a
    /// blocking thread, so that a slow read never holds up an async worker.
    async fn read_store<T: Send + 'static>(
        &self,
        read: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, EngineError> {
        if self.store.reads_in_place() {
            return Ok(read(&*self.store)?);
        }
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || read(&*store))
            .await
            .map_err(|_| EngineError::Closed)?
            .map_err(EngineError::from)
    }

    async fn answer(
        &self,
        message: Message,
        at_hand: Option<Bytes>,
    ) -> Result<Stored, EngineError> {
        let data = self.payload_of(message.seq, at_hand).await?;
        let payload = Payload {
            kind: message.kind,
            data,
        };
        Ok(Stored { message, payload })
    }

    pub async fn push(&self, new: NewMessage) -> Result<Message, EngineError> {
        let now = now_ms();
        let (msg, rx) = {
            let mut st = self.lock();
            let seq = st.next_seq;
            st.next_seq += 1;
            let msg = Message {
                id: self.ids.for_seq(now, seq),
                seq,
                source: new.source,
                destination: new.destination,
                status: new.status,
                tries: 0,
                topic: None,
                label: new.label,
                kind: new.payload.kind,
                created_time: now,
                update_time: None,
                scheduled_time: new.scheduled_time,
                processing_time: None,
                processed_time: None,
                error_time: None,
            };
            st.write(&msg, Some(cached_copy(&new.payload.data)));
            let rx = self.writer.submit(vec![Change::Put {
                message: msg.clone(),
                payload: Some(new.payload.data),
            }]);
            (msg, rx)
        };
        self.committed_or_undone(&msg, None, rx).await?;
        Ok(msg)
    }

    /// Takes the oldest due message addressed to `node` and marks it processing.
    pub async fn pull(&self, node: &str) -> Result<Option<Stored>, EngineError> {
        let now = now_ms();
        let (msg, previous, payload, rx) = {
            let mut st = self.lock();
            let Some(n) = st.index.node(node) else {
                return Ok(None);
            };
            let Some(found) = st.index.next_due(n, now) else {
                return Ok(None);
            };
            let Some((previous, payload)) = st.read(&*self.store, found.seq)? else {
                return Ok(None);
            };
            let mut msg = previous.clone();
            msg.status = Status::Processing;
            msg.tries += 1;
            msg.update_time = Some(now);
            msg.processing_time = Some(now);
            st.write(&msg, None);
            // Answered once written, not synced: see `Writer::submit_written`. A power cut
            // that loses it leaves the message pending, as its visibility timeout would.
            let rx = self.writer.submit_written(vec![Change::Put {
                message: msg.clone(),
                payload: None,
            }]);
            (msg, previous, payload, rx)
        };
        self.committed_or_undone(&msg, Some(previous), rx).await?;
        Ok(Some(self.answer(msg, payload).await?))
    }

    /// Marks a message `node` is processing as processed.
    pub async fn ack(&self, node: &str, id: MessageId) -> Result<Option<Stored>, EngineError> {
        let now = now_ms();
        let (msg, previous, payload, rx) = {
            let mut st = self.lock();
            let Some(found) = st.entry_by_id(&id) else {
                return Ok(None);
            };
            if st.index.node(node) != Some(found.destination) || found.status != Status::Processing
            {
                return Ok(None);
            }
            let Some((previous, payload)) = st.read(&*self.store, found.seq)? else {
                return Ok(None);
            };
            let mut msg = previous.clone();
            msg.status = Status::Processed;
            msg.processed_time = Some(now);
            msg.update_time = Some(now);
            st.write(&msg, None);
            let rx = self.writer.submit(vec![Change::Put {
                message: msg.clone(),
                payload: None,
            }]);
            (msg, previous, payload, rx)
        };
        self.committed_or_undone(&msg, Some(previous), rx).await?;
        Ok(Some(self.answer(msg, payload).await?))
    }

    /// A message `node` sent or receives.
    pub async fn get(&self, node: &str, id: MessageId) -> Result<Option<Stored>, EngineError> {
        let (msg, payload) = {
            let mut st = self.lock();
            let Some(n) = st.index.node(node) else {
                return Ok(None);
            };
            match st.entry_by_id(&id) {
                Some(e) if e.involves(n) => match st.read(&*self.store, e.seq)? {
                    Some(found) => found,
                    None => return Ok(None),
                },
                _ => return Ok(None),
            }
        };
        Ok(Some(self.answer(msg, payload).await?))
    }

    /// Up to `limit` messages `node` sent or receives, oldest first, without their payloads:
    /// a list answer reads those one at a time with `listed_payload`, so that it never holds
    /// more than one of them (up to the payload cap each).
    /// Every destination with messages and how many it has in each state, by destination.
    pub fn counts(&self) -> Vec<(String, Counts)> {
        let st = self.lock();
        let mut all: Vec<(String, Counts)> =
            st.index.counts().map(|(d, c)| (d.to_string(), c)).collect();
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Records not in the cache are read from the store in one transaction, after the lock:
    /// they are committed, and a list is not a reason to push the working set out of the
    /// cache, so they are not cached.
    pub async fn list(&self, node: &str, limit: usize) -> Result<Vec<Message>, EngineError> {
        let mut listed: Vec<Result<Message, u64>> = {
            let st = self.lock();
            let Some(n) = st.index.node(node) else {
                return Ok(Vec::new());
            };
            st.index
                .involving(n)
                .take(limit)
                .map(|e| st.cache.peek(e.seq).cloned().ok_or(e.seq))
                .collect()
        };
        let missing: Vec<u64> = listed
            .iter()
            .filter_map(|r| r.as_ref().err())
            .copied()
            .collect();
        if missing.is_empty() {
            return Ok(listed.into_iter().flatten().collect());
        }
        let found = self
            .read_store(move |store| store.read_records(&missing))
            .await?;
        let mut found = found.into_iter();
        for slot in listed.iter_mut() {
            if slot.is_err() {
                // One deleted since the lock was let go stays out of the answer.
                if let Some(Some(m)) = found.next() {
                    *slot = Ok(m);
                }
            }
        }
        Ok(listed.into_iter().flatten().collect())
    }

    /// The payload of a message `list` gave, read now; `None` if the message has been deleted
    /// since.
    pub async fn listed_payload(&self, message: Message) -> Result<Option<Stored>, EngineError> {
        let seq = message.seq;
        if let Some(data) = self.lock().cache.payload(seq) {
            let payload = Payload {
                kind: message.kind,
                data,
            };
            return Ok(Some(Stored { message, payload }));
        }
        self.read_store(move |store| {
            let payload = store.read_payload(seq)?.map(|data| Payload {
                kind: message.kind,
                data,
            });
            Ok(payload.map(|payload| Stored { message, payload }))
        })
        .await
    }

    /// Whether `node` may update the message, so callers can refuse before reading a body.
    pub fn may_change(&self, node: &str, id: MessageId, access: Access) -> bool {
        let st = self.lock();
        let Some(n) = st.index.node(node) else {
            return false;
        };
        st.index.get(&id).is_some_and(|e| access.allows(&e, n))
    }

    /// What the index and the cache hold now.
    pub fn memory(&self) -> MemoryUse {
        let st = self.lock();
        MemoryUse {
            messages: st.index.len(),
            index_bytes: st.index.heap_bytes(),
            cache_bytes: st.cache.bytes(),
            cached_messages: st.cache.len(),
        }
    }

    /// Replaces a message's payload; status, label and times other than `update_time` stay.
    pub async fn update(
        &self,
        node: &str,
        id: MessageId,
        access: Access,
        payload: Payload,
    ) -> Result<Option<Stored>, EngineError> {
        let now = now_ms();
        let (msg, previous, rx) = {
            let mut st = self.lock();
            let Some(n) = st.index.node(node) else {
                return Ok(None);
            };
            let Some(found) = st.entry_by_id(&id) else {
                return Ok(None);
            };
            if !access.allows(&found, n) {
                return Ok(None);
            }
            let Some((previous, _)) = st.read(&*self.store, found.seq)? else {
                return Ok(None);
            };
            let mut msg = previous.clone();
            msg.kind = payload.kind;
            msg.update_time = Some(now);
            st.write(&msg, Some(cached_copy(&payload.data)));
            let rx = self.writer.submit(vec![Change::Put {
                message: msg.clone(),
                payload: Some(payload.data.clone()),
            }]);
            (msg, previous, rx)
        };
        self.committed_or_undone(&msg, Some(previous), rx).await?;
        Ok(Some(Stored {
            message: msg,
            payload,
        }))
    }

    /// Deletes one message if `node` may; returns how many were deleted (0 or 1).
    pub async fn delete(
        &self,
        node: &str,
        id: MessageId,
        access: Access,
    ) -> Result<u64, EngineError> {
        let (seq, rx) = {
            let mut st = self.lock();
            let Some(n) = st.index.node(node) else {
                return Ok(0);
            };
            let Some(found) = st.entry_by_id(&id) else {
                return Ok(0);
            };
            if !access.allows(&found, n) {
                return Ok(0);
            }
            st.index.remove(found.seq);
            st.cache.remove(found.seq);
            (
                found.seq,
                self.writer.submit(vec![Change::Delete { seq: found.seq }]),
            )
        };
        if let Err(err) = Self::committed(rx).await {
            // As in `committed_or_undone`: the message is still on disk, so it is back in memory,
            // as the disk has it.
            let mut st = self.lock();
            if st.index.get_seq(seq).is_none() {
                if let Ok(Some((m, _))) = self.store.read_message(seq) {
                    st.index.put(&m.index_record());
                }
            }
            return Err(err);
        }
        Ok(1)
    }

    /// Deletes every message `node` may delete.
    pub async fn delete_all(&self, node: &str, access: Access) -> Result<u64, EngineError> {
        let (n, rx) = {
            let mut st = self.lock();
            let Some(n) = st.index.node(node) else {
                return Ok(0);
            };
            let seqs: Vec<u64> = st
                .index
                .involving(n)
                .filter(|e| access.allows(e, n))
                .map(|e| e.seq)
                .collect();
            for &seq in &seqs {
                st.index.remove(seq);
                st.cache.remove(seq);
            }
            let changes = seqs.iter().map(|&seq| Change::Delete { seq }).collect();
            (seqs.len() as u64, self.writer.submit(changes))
        };
        Self::committed(rx).await?;
        Ok(n)
    }

    /// Deletes every message of every node.
    pub async fn wipe(&self) -> Result<u64, EngineError> {
        let (n, rx) = {
            let mut st = self.lock();
            let n = st.index.clear() as u64;
            st.cache.clear();
            (n, self.writer.submit(vec![Change::Clear]))
        };
        Self::committed(rx).await?;
        Ok(n)
    }

    /// Returns unacked messages to pending after the visibility timeout and deletes processed
    /// messages past their retention. Returns (requeued, purged).
    pub async fn maintain(&self) -> Result<(usize, usize), EngineError> {
        let now = now_ms();
        let (requeued, purged, pinned, rx) = {
            let mut st = self.lock();
            let mut changes = Vec::new();
            let mut pinned = Vec::new();
            if let Some(vt) = self.config.visibility_timeout {
                for seq in st.index.in_flight_since(now - vt.as_millis() as i64) {
                    let Some((mut msg, _)) = st.read(&*self.store, seq)? else {
                        continue;
                    };
                    msg.status = Status::Pending;
                    msg.processing_time = None;
                    msg.update_time = Some(now);
                    st.write(&msg, None);
                    pinned.push(seq);
                    changes.push(Change::Put {
                        message: msg,
                        payload: None,
                    });
                }
            }
            let requeued = pinned.len();
            let mut purged = 0;
            if let Some(keep) = self.config.processed_retention {
                for seq in st.index.processed_since(now - keep.as_millis() as i64) {
                    st.index.remove(seq);
                    st.cache.remove(seq);
                    changes.push(Change::Delete { seq });
                    purged += 1;
                }
            }
            if changes.is_empty() {
                return Ok((0, 0));
            }
            (requeued, purged, pinned, self.writer.submit(changes))
        };
        self.committed_unpin(&pinned, rx).await?;
        Ok((requeued, purged))
    }

    /// Waits until every change made so far is committed.
    pub async fn flush(&self) -> Result<(), EngineError> {
        let rx = {
            let _st = self.lock();
            self.writer.submit(Vec::new())
        };
        Self::committed(rx).await
    }

    /// Test hook: inserts documents as given. Returns their ids in input order.
    pub async fn hook_insert(&self, docs: Vec<HookDoc>) -> Result<Vec<MessageId>, EngineError> {
        let now = now_ms();
        let (ids, pinned, rx) = {
            let mut st = self.lock();
            let mut ids = Vec::new();
            let mut changes = Vec::new();
            let mut pinned = Vec::new();
            for doc in docs {
                if let Some(old) = doc.id.and_then(|id| st.index.get(&id).map(|e| e.seq)) {
                    st.index.remove(old);
                    st.cache.remove(old);
                    changes.push(Change::Delete { seq: old });
                }
                let seq = st.next_seq;
                st.next_seq += 1;
                let msg = Message {
                    id: doc.id.unwrap_or_else(|| self.ids.for_seq(now, seq)),
                    seq,
                    source: doc.source,
                    destination: doc.destination,
                    status: doc.status,
                    tries: doc.tries,
                    topic: doc.topic,
                    label: doc.label,
                    kind: doc.payload.kind,
                    created_time: now,
                    update_time: None,
                    scheduled_time: doc.scheduled_time,
                    processing_time: (doc.status == Status::Processing).then_some(now),
                    processed_time: (doc.status == Status::Processed).then_some(now),
                    error_time: None,
                };
                ids.push(msg.id);
                st.write(&msg, Some(cached_copy(&doc.payload.data)));
                pinned.push(msg.seq);
                changes.push(Change::Put {
                    message: msg,
                    payload: Some(doc.payload.data),
                });
            }
            (ids, pinned, self.writer.submit(changes))
        };
        self.committed_unpin(&pinned, rx).await?;
        Ok(ids)
    }

    /// Test hook: how many messages are stored.
    pub fn hook_count(&self) -> usize {
        self.lock().index.len()
    }

    /// Test hook: applies `update` to the first message (in FIFO order) that matches `filter`.
    pub async fn hook_update_first(
        &self,
        filter: &HookFilter,
        update: &HookUpdate,
    ) -> Result<Option<MessageId>, EngineError> {
        let now = now_ms();
        let (id, seq, rx) = {
            let mut st = self.lock();
            let node = |name: &Option<String>| match name {
                None => Ok(None),
                Some(n) => st.index.node(n).map(Some).ok_or(()),
            };
            let (Ok(source), Ok(destination)) = (node(&filter.source), node(&filter.destination))
            else {
                return Ok(None);
            };
            let found = st.index.all().find(|e| {
                filter.id.is_none_or(|id| e.id == id)
                    && source.is_none_or(|s| e.source == s)
                    && destination.is_none_or(|d| e.destination == d)
                    && filter.status.is_none_or(|s| e.status == s)
            });
            let Some(found) = found else { return Ok(None) };
            let Some((mut msg, _)) = st.read(&*self.store, found.seq)? else {
                return Ok(None);
            };
            if let Some(s) = update.status {
                msg.status = s;
                match s {
                    Status::Processing => msg.processing_time = msg.processing_time.or(Some(now)),
                    Status::Processed => msg.processed_time = msg.processed_time.or(Some(now)),
                    _ => {}
                }
            }
            if let Some(t) = update.tries {
                msg.tries = t;
            }
            if let Some(t) = update.scheduled_time {
                msg.scheduled_time = Some(t);
            }
            msg.update_time = Some(now);
            st.write(&msg, None);
            (
                msg.id,
                msg.seq,
                self.writer.submit(vec![Change::Put {
                    message: msg,
                    payload: None,
                }]),
            )
        };
        self.committed_unpin(&[seq], rx).await?;
        Ok(Some(id))
    }
}

/// A payload as the cache keeps it: in an allocation of its own, since a request's body may be
/// a slice of a much larger read buffer that the cache would otherwise keep alive.
fn cached_copy(data: &Bytes) -> Bytes {
    Bytes::copy_from_slice(data)
}
