//! The bus inside one process: a publication goes straight into the queue of every matching
//! subscription, with no copy of its bytes and nothing serialised.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::error::{BusError, PublishError};
use crate::message::{BusMessage, Echo};
use crate::node::NodeId;
use crate::status::{Status, Tracker};
use crate::subject::{Filter, Subject};

/// The in-process bus. Clones share it; [`LocalBus::with_node`] gives another node's handle
/// on the same bus, so that several nodes can be run in one process (in tests, say).
#[derive(Clone)]
pub struct LocalBus {
    shared: Arc<Shared>,
    node: NodeId,
}

struct Shared {
    subscriptions: RwLock<Vec<Entry>>,
    tracker: Tracker,
    capacity: usize,
    dropped: AtomicU64,
}

struct Entry {
    filter: Filter,
    /// The node whose echoes are skipped, when they are.
    skip: Option<NodeId>,
    tx: mpsc::Sender<BusMessage>,
}

impl LocalBus {
    pub(crate) fn new(node: NodeId, subscription_capacity: usize) -> Self {
        LocalBus {
            shared: Arc::new(Shared {
                subscriptions: RwLock::new(Vec::new()),
                tracker: Tracker::new("local".to_owned()),
                capacity: subscription_capacity.max(1),
                dropped: AtomicU64::new(0),
            }),
            node,
        }
    }

    /// A handle on the same bus for another node.
    pub fn with_node(&self, node: NodeId) -> Self {
        LocalBus {
            shared: self.shared.clone(),
            node,
        }
    }

    pub(crate) fn node(&self) -> &NodeId {
        &self.node
    }

    /// Never blocks and never fills: a subscription whose queue is full misses the message
    /// (as a slow NATS subscriber would), which [`LocalBus::dropped`] counts.
    pub(crate) fn publish(&self, subject: &Subject, payload: Bytes) -> Result<(), PublishError> {
        if self.shared.tracker.is_closed() {
            return Err(PublishError::Closed);
        }
        let message = BusMessage {
            subject: subject.clone(),
            origin: self.node.clone(),
            payload,
        };
        let mut gone = false;
        {
            let subscriptions = self.shared.read();
            for entry in subscriptions.iter() {
                if entry.skip.as_ref() == Some(&self.node) || !entry.filter.matches(subject) {
                    continue;
                }
                match entry.tx.try_send(message.clone()) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => gone = true,
                }
            }
        }
        if gone {
            self.shared.write().retain(|e| !e.tx.is_closed());
        }
        Ok(())
    }

    pub(crate) fn subscribe(
        &self,
        filter: Filter,
        echo: Echo,
    ) -> Result<mpsc::Receiver<BusMessage>, BusError> {
        let (tx, rx) = mpsc::channel(self.shared.capacity);
        let skip = (echo == Echo::Skip).then(|| self.node.clone());
        // Checked under the lock that `close` clears the list under, so that no subscription
        // is added after the clearing.
        let mut subscriptions = self.shared.write();
        if self.shared.tracker.is_closed() {
            return Err(BusError::Closed);
        }
        subscriptions.push(Entry { filter, skip, tx });
        Ok(rx)
    }

    pub(crate) fn status(&self) -> tokio::sync::watch::Receiver<Status> {
        self.shared.tracker.watch()
    }

    /// How many messages subscriptions missed because their queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Closes the bus for every node on it: publishing fails, subscriptions end.
    pub(crate) fn close(&self) {
        self.shared.tracker.closed();
        self.shared.write().clear();
    }
}

impl Shared {
    // A panic while the lock was held leaves the list itself intact, so it is used as it is.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Entry>> {
        self.subscriptions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Entry>> {
        self.subscriptions
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
