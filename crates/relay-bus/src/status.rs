//! The state of a node's connection to the bus, watched by whoever must react to its loss.

use std::time::SystemTime;

use tokio::sync::watch;

/// Whether the bus carries messages between nodes right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Messages flow.
    Connected,
    /// The connection was lost at `since` and is being made again. Messages published by other
    /// nodes meanwhile never arrive: once `Connected` again, a node catches up from the store.
    Disconnected {
        /// When the connection was lost.
        since: SystemTime,
    },
    /// The bus was closed; it will not connect again.
    Closed,
}

/// Keeps the status and logs its changes: once at warn when the connection is lost, once at
/// info when it is back, however many attempts lie between.
pub(crate) struct Tracker {
    tx: watch::Sender<Status>,
    what: String,
}

impl Tracker {
    pub(crate) fn new(what: String) -> Self {
        Tracker {
            tx: watch::Sender::new(Status::Connected),
            what,
        }
    }

    pub(crate) fn watch(&self) -> watch::Receiver<Status> {
        self.tx.subscribe()
    }

    pub(crate) fn lost(&self) {
        let changed = self.tx.send_if_modified(|s| match s {
            Status::Connected => {
                *s = Status::Disconnected {
                    since: SystemTime::now(),
                };
                true
            }
            _ => false,
        });
        if changed {
            tracing::warn!(bus = %self.what, "lost the connection to the bus; reconnecting");
        }
    }

    pub(crate) fn back(&self) {
        let mut was = None;
        self.tx.send_if_modified(|s| match *s {
            Status::Disconnected { since } => {
                was = Some(since);
                *s = Status::Connected;
                true
            }
            _ => false,
        });
        if let Some(since) = was {
            let away = SystemTime::now()
                .duration_since(since)
                .unwrap_or_default()
                .as_secs_f64();
            tracing::info!(bus = %self.what, away_s = away, "the connection to the bus is back");
        }
    }

    pub(crate) fn closed(&self) {
        self.tx.send_replace(Status::Closed);
    }

    pub(crate) fn current(&self) -> Status {
        *self.tx.borrow()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.current() == Status::Closed
    }
}
