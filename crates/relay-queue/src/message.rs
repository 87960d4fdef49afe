//! What the engine keeps about a message besides its payload.

use relay_wire::queue::{ContentKind, MessageId, Payload, Status};
use serde::{Deserialize, Serialize};

/// A message's system data. `seq` orders messages by creation (then insertion), which is the
/// delivery and listing order; it is also the key under which the store keeps the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub seq: u64,
    pub source: String,
    pub destination: String,
    pub status: Status,
    pub tries: u32,
    pub topic: Option<String>,
    pub label: String,
    pub kind: ContentKind,
    pub created_time: i64,
    pub update_time: Option<i64>,
    pub scheduled_time: Option<i64>,
    pub processing_time: Option<i64>,
    pub processed_time: Option<i64>,
    pub error_time: Option<i64>,
}

impl Message {
    /// Whether a pull by its destination may take it now.
    pub fn is_due(&self, now: i64) -> bool {
        match self.status {
            Status::Pending => true,
            Status::Scheduled => self.scheduled_time.is_some_and(|t| t <= now),
            Status::Processing | Status::Processed => false,
        }
    }

    pub fn involves(&self, node: &str) -> bool {
        self.source == node || self.destination == node
    }
}

/// A validated push.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub source: String,
    pub destination: String,
    /// `Scheduled` or `Pending`; other statuses are normalised by the caller.
    pub status: Status,
    pub scheduled_time: Option<i64>,
    pub label: String,
    pub payload: Payload,
}
