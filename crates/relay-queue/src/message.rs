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

    /// What the in-memory index takes from this message.
    pub fn index_record(&self) -> IndexRecord<'_> {
        IndexRecord {
            seq: self.seq,
            id: self.id,
            source: &self.source,
            destination: &self.destination,
            status: self.status,
            created_time: self.created_time,
            scheduled_time: self.scheduled_time,
            processing_time: self.processing_time,
            processed_time: self.processed_time,
        }
    }
}

/// The fields of a message that the engine's decisions need, borrowed from a stored record:
/// what a store hands the engine at start-up to rebuild its index.
#[derive(Debug, Clone, Copy)]
pub struct IndexRecord<'a> {
    pub seq: u64,
    pub id: MessageId,
    pub source: &'a str,
    pub destination: &'a str,
    pub status: Status,
    pub created_time: i64,
    pub scheduled_time: Option<i64>,
    pub processing_time: Option<i64>,
    pub processed_time: Option<i64>,
}

/// A stored `Message` decoded in place: the same fields in the same order, with the strings
/// borrowed from the record, so that reading every record at start-up allocates nothing.
#[derive(Deserialize)]
pub(crate) struct MessageView<'a> {
    id: MessageId,
    seq: u64,
    source: &'a str,
    destination: &'a str,
    status: Status,
    _tries: u32,
    _topic: Option<&'a str>,
    _label: &'a str,
    _kind: ContentKind,
    created_time: i64,
    _update_time: Option<i64>,
    scheduled_time: Option<i64>,
    processing_time: Option<i64>,
    processed_time: Option<i64>,
    _error_time: Option<i64>,
}

impl<'a> MessageView<'a> {
    pub(crate) fn record(&self) -> IndexRecord<'a> {
        IndexRecord {
            seq: self.seq,
            id: self.id,
            source: self.source,
            destination: self.destination,
            status: self.status,
            created_time: self.created_time,
            scheduled_time: self.scheduled_time,
            processing_time: self.processing_time,
            processed_time: self.processed_time,
        }
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
