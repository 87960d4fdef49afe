//! Where messages live. The engine talks to a `Store` only through whole-batch commits, a
//! start-up scan of what its index needs, and reads of records and payloads, so that a PostgreSQL store can stand beside the embedded one
//! without touching the engine or the HTTP layer.

mod embedded;

use bytes::Bytes;

pub use embedded::RedbStore;

use crate::message::{IndexRecord, Message};
use crate::shared::PostgresError;

/// One change in a commit.
#[derive(Debug, Clone)]
// `Put` is nearly every change; boxing its message would cost an allocation per change to
// shrink the rare `Delete` and `Clear`.
#[allow(clippy::large_enum_variant)]
pub enum Change {
    /// Insert or replace a message's system data; `payload` is `None` when it is unchanged.
    Put {
        message: Message,
        payload: Option<Bytes>,
    },
    /// Remove a message and its payload.
    Delete { seq: u64 },
    /// Remove every message.
    Clear,
}

/// When a commit counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// On disk (fsync) before the commit returns: nothing acknowledged is lost on a crash or
    /// power cut.
    Immediate,
    /// Written to disk at most every 100 ms: a crash of the machine may lose the last moment of
    /// acknowledged changes. Only when chosen explicitly.
    Relaxed,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Redb(#[from] redb::Error),
    #[error("a stored record could not be read")]
    Decode(#[from] postcard::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Postgres(#[from] PostgresError),
}

pub trait Store: Send + Sync + 'static {
    /// Every stored message's system data, in `seq` order.
    fn load(&self) -> Result<Vec<Message>, StoreError>;
    /// Calls `each` with what the index needs of every stored message, in `seq` order: the
    /// start-up path, which should not build whole messages.
    fn scan(&self, each: &mut dyn FnMut(IndexRecord<'_>)) -> Result<(), StoreError>;
    /// About how many messages are stored, so that the index can be sized before the scan.
    fn count_hint(&self) -> usize {
        0
    }
    /// The system data and payload of the message stored under `seq`, read together.
    fn read_message(&self, seq: u64) -> Result<Option<(Message, Bytes)>, StoreError>;
    /// The system data of several messages, in the order asked, read in one go.
    fn read_records(&self, seqs: &[u64]) -> Result<Vec<Option<Message>>, StoreError>;
    /// Applies all changes atomically. `durable` asks for the changes to be on disk before
    /// returning; without it they must still be out of the process (written to the kernel), so
    /// that a crash of the process alone never loses a commit that returned: the engine answers
    /// pulls on such commits.
    fn commit(&self, changes: &[Change], durable: bool) -> Result<(), StoreError>;
    /// The payload of the message stored under `seq`.
    fn read_payload(&self, seq: u64) -> Result<Option<Bytes>, StoreError>;
    /// Whether `read_payload` for one message is cheap enough to call on an async thread (no
    /// network round trip, no runtime of its own).
    fn reads_in_place(&self) -> bool {
        false
    }
}
