//! Relay's queue engine: the message state machine of the Scirocco protocol, kept durable.
//!
//! Layout:
//! - `message`: a message's system data (everything but the payload) and what a push brings.
//! - `index`: the compact in-memory view of every message (a small entry each: by id, per
//!   inbox, per node, in flight), so that a pull never searches the disk. The store is the
//!   truth; the index is rebuilt from it at start-up.
//! - `cache`: the whole records and payloads of recently written or read messages, bounded by
//!   bytes; the rest is read from the store when an answer needs it.
//! - `engine`: the operations (push, pull, ack, get, list, update, delete, wipe) and the rules of
//!   who may do what; each change is applied to the index and handed to the writer in one step,
//!   and the caller is answered only once the writer has committed it.
//! - `writer`: one thread that owns write transactions and commits changes in groups.
//! - `store`: the `Store` trait the engine commits through, and its implementation on redb.
//! - `ids`: ObjectId-shaped message ids.
//! - `shared`: the queue on PostgreSQL for several nodes, whose state is the database alone.
//! - `queue`: `Queue`, the one interface the HTTP layer calls, over either of the two.
//!
//! The engine knows nothing of HTTP: statuses, headers and bodies belong to `relay-server`.

mod cache;
mod engine;
mod error;
mod ids;
mod index;
mod message;
mod queue;
mod shared;
pub mod store;
mod writer;

pub use engine::{
    Access, Engine, EngineConfig, HookDoc, HookFilter, HookUpdate, MemoryUse, Stored,
    DEFAULT_CACHE_BYTES,
};
pub use error::EngineError;
pub use index::Counts;
pub use message::{IndexRecord, Message, NewMessage};
pub use queue::Queue;
pub use shared::PostgresError;
pub use shared::SharedQueue;
pub use store::{Change, Durability, RedbStore, Store, StoreError};

/// Milliseconds since the Unix epoch, the unit of every time in the engine.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
