//! `Queue`: the operations the HTTP layer calls, with two implementations behind them. `Local`
//! is the engine with its in-memory index over a `Store` (the embedded redb file by default: one
//! process, the fastest); `Shared` is the queue whose state is a PostgreSQL database, for any
//! number of nodes.

use std::sync::{Arc, Weak};
use std::time::Duration;

use relay_wire::queue::{MessageId, Payload};

use crate::engine::{Access, Engine, HookDoc, HookFilter, HookUpdate, Stored};
use crate::error::EngineError;
use crate::index::Counts;
use crate::message::{Message, NewMessage};
use crate::shared::SharedQueue;

#[derive(Clone)]
pub enum Queue {
    Local(Arc<Engine>),
    Shared(Arc<SharedQueue>),
}

/// A `Queue` that does not keep it alive, for the maintenance task.
enum WeakQueue {
    Local(Weak<Engine>),
    Shared(Weak<SharedQueue>),
}

impl WeakQueue {
    fn upgrade(&self) -> Option<Queue> {
        match self {
            WeakQueue::Local(q) => q.upgrade().map(Queue::Local),
            WeakQueue::Shared(q) => q.upgrade().map(Queue::Shared),
        }
    }
}

macro_rules! both {
    ($self:ident, $q:ident => $e:expr) => {
        match $self {
            Queue::Local($q) => $e,
            Queue::Shared($q) => $e,
        }
    };
}

impl Queue {
    /// Every destination with messages and how many it has in each state, by destination.
    pub async fn counts(&self) -> Result<Vec<(String, Counts)>, EngineError> {
        match self {
            Queue::Local(q) => Ok(q.counts()),
            Queue::Shared(q) => q.counts().await,
        }
    }

    /// How often the counts are worth reading: the local index keeps them, the shared queue
    /// counts its table for each reading.
    pub fn counts_every(&self) -> Duration {
        match self {
            Queue::Local(_) => Duration::from_secs(1),
            Queue::Shared(_) => Duration::from_secs(5),
        }
    }

    pub async fn push(&self, new: NewMessage) -> Result<Message, EngineError> {
        both!(self, q => q.push(new).await)
    }

    /// Takes the oldest due message addressed to `node` and marks it processing.
    pub async fn pull(&self, node: &str) -> Result<Option<Stored>, EngineError> {
        both!(self, q => q.pull(node).await)
    }

    /// Marks a message `node` is processing as processed.
    pub async fn ack(&self, node: &str, id: MessageId) -> Result<Option<Stored>, EngineError> {
        both!(self, q => q.ack(node, id).await)
    }

    /// A message `node` sent or receives.
    pub async fn get(&self, node: &str, id: MessageId) -> Result<Option<Stored>, EngineError> {
        both!(self, q => q.get(node, id).await)
    }

    /// Up to `limit` messages `node` sent or receives, oldest first, without their payloads
    /// (read them one at a time with `listed_payload`).
    pub async fn list(&self, node: &str, limit: usize) -> Result<Vec<Message>, EngineError> {
        match self {
            Queue::Local(q) => q.list(node, limit).await,
            Queue::Shared(q) => q.list(node, limit).await,
        }
    }

    /// The payload of a message `list` gave; `None` if it has been deleted since.
    pub async fn listed_payload(&self, message: Message) -> Result<Option<Stored>, EngineError> {
        both!(self, q => q.listed_payload(message).await)
    }

    /// Whether `node` may update the message, so callers can refuse before reading a body.
    pub async fn may_change(
        &self,
        node: &str,
        id: MessageId,
        access: Access,
    ) -> Result<bool, EngineError> {
        match self {
            Queue::Local(q) => Ok(q.may_change(node, id, access)),
            Queue::Shared(q) => q.may_change(node, id, access).await,
        }
    }

    pub async fn update(
        &self,
        node: &str,
        id: MessageId,
        access: Access,
        payload: Payload,
    ) -> Result<Option<Stored>, EngineError> {
        both!(self, q => q.update(node, id, access, payload).await)
    }

    pub async fn delete(
        &self,
        node: &str,
        id: MessageId,
        access: Access,
    ) -> Result<u64, EngineError> {
        both!(self, q => q.delete(node, id, access).await)
    }

    pub async fn delete_all(&self, node: &str, access: Access) -> Result<u64, EngineError> {
        both!(self, q => q.delete_all(node, access).await)
    }

    pub async fn wipe(&self) -> Result<u64, EngineError> {
        both!(self, q => q.wipe().await)
    }

    /// Redelivery after the visibility timeout and processed retention. Returns (requeued,
    /// purged).
    pub async fn maintain(&self) -> Result<(usize, usize), EngineError> {
        both!(self, q => q.maintain().await)
    }

    /// Runs `maintain` every `every` until the queue is dropped.
    pub fn spawn_maintenance(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak = match self {
            Queue::Local(q) => WeakQueue::Local(Arc::downgrade(q)),
            Queue::Shared(q) => WeakQueue::Shared(Arc::downgrade(q)),
        };
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(queue) = weak.upgrade() else { break };
                match queue.maintain().await {
                    Ok((0, 0)) => {}
                    Ok((requeued, purged)) => {
                        tracing::debug!(requeued, purged, "queue maintenance")
                    }
                    Err(err) => tracing::error!(
                        error = &err as &dyn std::error::Error,
                        "queue maintenance failed"
                    ),
                }
            }
        })
    }

    /// Waits until every change made so far is committed (the shared queue answers only after
    /// its commits, so it has nothing to wait for).
    pub async fn flush(&self) -> Result<(), EngineError> {
        match self {
            Queue::Local(q) => q.flush().await,
            Queue::Shared(_) => Ok(()),
        }
    }

    pub async fn hook_insert(&self, docs: Vec<HookDoc>) -> Result<Vec<MessageId>, EngineError> {
        both!(self, q => q.hook_insert(docs).await)
    }

    pub async fn hook_count(&self) -> Result<usize, EngineError> {
        match self {
            Queue::Local(q) => Ok(q.hook_count()),
            Queue::Shared(q) => q.hook_count().await,
        }
    }

    pub async fn hook_update_first(
        &self,
        filter: &HookFilter,
        update: &HookUpdate,
    ) -> Result<Option<MessageId>, EngineError> {
        both!(self, q => q.hook_update_first(filter, update).await)
    }
}
