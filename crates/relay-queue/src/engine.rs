//! The queue's operations. Each one changes the in-memory index and queues the same change for
//! the writer under one lock, so the disk sees changes in the order clients saw them; the caller
//! is answered only after the writer has committed.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use relay_wire::queue::{MessageId, Payload, Status};

use crate::error::EngineError;
use crate::ids::IdGenerator;
use crate::index::{Counts, Index};
use crate::message::{Message, NewMessage};
use crate::now_ms;
use crate::store::{Change, Durability, Store};
use crate::writer::{CommitResult, Writer};

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// A pulled message not acked within this time goes back to pending. `None` keeps it in
    /// processing forever, as the original does.
    pub visibility_timeout: Option<Duration>,
    /// Processed messages are deleted this long after their ack. `None` keeps them until a
    /// client deletes them, as the original does.
    pub processed_retention: Option<Duration>,
    pub durability: Durability,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            visibility_timeout: Some(Duration::from_secs(300)),
            processed_retention: Some(Duration::from_secs(3600)),
            durability: Durability::Immediate,
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
    fn allows(self, msg: &Message, node: &str) -> bool {
        match self {
            Access::Involved => msg.involves(node),
            Access::SenderWhileWaiting => msg.source == node && msg.status.is_waiting(),
        }
    }
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
    next_seq: u64,
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
        let mut index = Index::default();
        for msg in store.load()? {
            index.put(msg);
        }
        let next_seq = index.last_seq().map_or(1, |s| s + 1);
        tracing::info!(messages = index.len(), "queue store loaded");
        let writer = Writer::spawn(store.clone(), config.durability)
            .map_err(|e| EngineError::Store(e.into()))?;
        Ok(Arc::new(Engine {
            state: Mutex::new(State { index, next_seq }),
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

    async fn committed(
        rx: tokio::sync::oneshot::Receiver<CommitResult>,
    ) -> Result<(), EngineError> {
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(EngineError::Store(Arc::try_unwrap(err).unwrap_or_else(
                |e| crate::store::StoreError::Io(std::io::Error::other(e.to_string())),
            ))),
            Err(_) => Err(EngineError::Closed),
        }
    }

    /// Waits for the commit of `written`. When the store refuses it the client hears the
    /// change failed, so memory goes back to what the disk holds (`previous`, or no message for
    /// a push), unless a later operation has changed the message since.
    async fn committed_or_undone(
        &self,
        written: &Message,
        previous: Option<Message>,
        rx: tokio::sync::oneshot::Receiver<CommitResult>,
    ) -> Result<(), EngineError> {
        let result = Self::committed(rx).await;
        if result.is_err() {
            let mut st = self.lock();
            if st.index.get_seq(written.seq) == Some(written) {
                match previous {
                    Some(p) => st.index.put(p),
                    None => {
                        st.index.remove(written.seq);
                    }
                }
            }
        }
        result
    }

    pub async fn push(&self, new: NewMessage) -> Result<Message, EngineError> {
        let now = now_ms();
        let (msg, rx) = {
            let mut st = self.lock();
            let seq = st.next_seq;
            st.next_seq += 1;
            let msg = Message {
                id: self.ids.next(now),
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
            st.index.put(msg.clone());
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
        let (msg, previous, rx) = {
            let mut st = self.lock();
            let Some(found) = st.index.next_due(node, now) else {
                return Ok(None);
            };
            let previous = found.clone();
            let mut msg = found.clone();
            msg.status = Status::Processing;
            msg.tries += 1;
            msg.update_time = Some(now);
            msg.processing_time = Some(now);
            st.index.put(msg.clone());
            let rx = self.writer.submit(vec![Change::Put {
                message: msg.clone(),
                payload: None,
            }]);
            (msg, previous, rx)
        };
        self.committed_or_undone(&msg, Some(previous), rx).await?;
        Ok(Some(self.with_payload(msg).await?))
    }

    /// Marks a message `node` is processing as processed.
    pub async fn ack(&self, node: &str, id: MessageId) -> Result<Option<Stored>, EngineError> {
        let now = now_ms();
        let (msg, previous, rx) = {
            let mut st = self.lock();
            let Some(found) = st.index.get(&id) else {
                return Ok(None);
            };
            if found.destination != node || found.status != Status::Processing {
                return Ok(None);
            }
            let previous = found.clone();
            let mut msg = found.clone();
            msg.status = Status::Processed;
            msg.processed_time = Some(now);
            msg.update_time = Some(now);
            st.index.put(msg.clone());
            let rx = self.writer.submit(vec![Change::Put {
                message: msg.clone(),
                payload: None,
            }]);
            (msg, previous, rx)
        };
        self.committed_or_undone(&msg, Some(previous), rx).await?;
        Ok(Some(self.with_payload(msg).await?))
    }

    /// A message `node` sent or receives.
    pub async fn get(&self, node: &str, id: MessageId) -> Result<Option<Stored>, EngineError> {
        let msg = {
            let st = self.lock();
            match st.index.get(&id) {
                Some(m) if m.involves(node) => m.clone(),
                _ => return Ok(None),
            }
        };
        Ok(Some(self.with_payload(msg).await?))
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

    pub fn list(&self, node: &str, limit: usize) -> Vec<Message> {
        self.lock()
            .index
            .involving(node)
            .take(limit)
            .cloned()
            .collect()
    }

    /// The payload of a message `list` gave, read now; `None` if the message has been deleted
    /// since.
    pub async fn listed_payload(&self, message: Message) -> Result<Option<Stored>, EngineError> {
        let seq = message.seq;
        let read = move |store: &dyn Store| -> Result<Option<Stored>, crate::store::StoreError> {
            let payload = store.read_payload(seq)?.map(|data| Payload {
                kind: message.kind,
                data,
            });
            Ok(payload.map(|payload| Stored { message, payload }))
        };
        if self.store.reads_in_place() {
            return Ok(read(&*self.store)?);
        }
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || read(&*store))
            .await
            .map_err(|_| EngineError::Closed)?
            .map_err(EngineError::from)
    }

    /// Whether `node` may update the message, so callers can refuse before reading a body.
    pub fn may_change(&self, node: &str, id: MessageId, access: Access) -> bool {
        self.lock()
            .index
            .get(&id)
            .is_some_and(|m| access.allows(m, node))
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
            let Some(found) = st.index.get(&id) else {
                return Ok(None);
            };
            if !access.allows(found, node) {
                return Ok(None);
            }
            let previous = found.clone();
            let mut msg = found.clone();
            msg.kind = payload.kind;
            msg.update_time = Some(now);
            st.index.put(msg.clone());
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
        let (previous, rx) = {
            let mut st = self.lock();
            let Some(found) = st.index.get(&id) else {
                return Ok(0);
            };
            if !access.allows(found, node) {
                return Ok(0);
            }
            let previous = found.clone();
            st.index.remove(previous.seq);
            (
                previous.clone(),
                self.writer
                    .submit(vec![Change::Delete { seq: previous.seq }]),
            )
        };
        if let Err(err) = Self::committed(rx).await {
            // As in `committed_or_undone`: the message is still on disk, so it is back in memory.
            let mut st = self.lock();
            if st.index.get_seq(previous.seq).is_none() {
                st.index.put(previous);
            }
            return Err(err);
        }
        Ok(1)
    }

    /// Deletes every message `node` may delete.
    pub async fn delete_all(&self, node: &str, access: Access) -> Result<u64, EngineError> {
        let (n, rx) = {
            let mut st = self.lock();
            let seqs: Vec<u64> = st
                .index
                .involving(node)
                .filter(|m| access.allows(m, node))
                .map(|m| m.seq)
                .collect();
            for &seq in &seqs {
                st.index.remove(seq);
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
            (n, self.writer.submit(vec![Change::Clear]))
        };
        Self::committed(rx).await?;
        Ok(n)
    }

    /// Returns unacked messages to pending after the visibility timeout and deletes processed
    /// messages past their retention. Returns (requeued, purged).
    pub async fn maintain(&self) -> Result<(usize, usize), EngineError> {
        let now = now_ms();
        let (requeued, purged, rx) = {
            let mut st = self.lock();
            let mut changes = Vec::new();
            let mut requeued = 0;
            if let Some(vt) = self.config.visibility_timeout {
                for seq in st.index.in_flight_since(now - vt.as_millis() as i64) {
                    let Some(found) = st.index.get_seq(seq) else {
                        continue;
                    };
                    let mut msg = found.clone();
                    msg.status = Status::Pending;
                    msg.processing_time = None;
                    msg.update_time = Some(now);
                    st.index.put(msg.clone());
                    changes.push(Change::Put {
                        message: msg,
                        payload: None,
                    });
                    requeued += 1;
                }
            }
            let mut purged = 0;
            if let Some(keep) = self.config.processed_retention {
                for seq in st.index.processed_since(now - keep.as_millis() as i64) {
                    st.index.remove(seq);
                    changes.push(Change::Delete { seq });
                    purged += 1;
                }
            }
            if changes.is_empty() {
                return Ok((0, 0));
            }
            (requeued, purged, self.writer.submit(changes))
        };
        Self::committed(rx).await?;
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
        let (ids, rx) = {
            let mut st = self.lock();
            let mut ids = Vec::new();
            let mut changes = Vec::new();
            for doc in docs {
                if let Some(old) = doc.id.and_then(|id| st.index.get(&id).map(|m| m.seq)) {
                    st.index.remove(old);
                    changes.push(Change::Delete { seq: old });
                }
                let seq = st.next_seq;
                st.next_seq += 1;
                let msg = Message {
                    id: doc.id.unwrap_or_else(|| self.ids.next(now)),
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
                st.index.put(msg.clone());
                changes.push(Change::Put {
                    message: msg,
                    payload: Some(doc.payload.data),
                });
            }
            (ids, self.writer.submit(changes))
        };
        Self::committed(rx).await?;
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
        let (id, rx) = {
            let mut st = self.lock();
            let found = st.index.all().find(|m| {
                filter.id.is_none_or(|id| m.id == id)
                    && filter.source.as_ref().is_none_or(|s| &m.source == s)
                    && filter
                        .destination
                        .as_ref()
                        .is_none_or(|d| &m.destination == d)
                    && filter.status.is_none_or(|s| m.status == s)
            });
            let Some(found) = found else { return Ok(None) };
            let mut msg = found.clone();
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
            st.index.put(msg.clone());
            (
                msg.id,
                self.writer.submit(vec![Change::Put {
                    message: msg,
                    payload: None,
                }]),
            )
        };
        Self::committed(rx).await?;
        Ok(Some(id))
    }

    async fn with_payload(&self, message: Message) -> Result<Stored, EngineError> {
        let mut v = self.with_payloads(vec![message]).await?;
        Ok(v.remove(0))
    }

    /// Reads payloads. With an embedded store one message's payload is read in place: it is at
    /// most the payload cap and usually a lookup in the store's cache, and a hop to another
    /// thread would cost more than the read. Anything else is read off the async threads.
    async fn with_payloads(&self, msgs: Vec<Message>) -> Result<Vec<Stored>, EngineError> {
        if msgs.len() <= 1 && self.store.reads_in_place() {
            return Ok(read_payloads(&*self.store, msgs)?);
        }
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || read_payloads(&*store, msgs))
            .await
            .map_err(|_| EngineError::Closed)?
            .map_err(EngineError::from)
    }
}

fn read_payloads(
    store: &dyn Store,
    msgs: Vec<Message>,
) -> Result<Vec<Stored>, crate::store::StoreError> {
    msgs.into_iter()
        .map(|message| {
            // A message deleted between its change and this read keeps an empty payload.
            let data = store.read_payload(message.seq)?.unwrap_or_else(Bytes::new);
            let payload = Payload {
                kind: message.kind,
                data,
            };
            Ok(Stored { message, payload })
        })
        .collect()
}
