#![warn(missing_docs)]
//! Relay's bus between nodes: live traffic (a channel's messages, logins taking an identity
//! over, stale caches) published by one node and received by the others.
//!
//! The bus is at most once and keeps nothing: the store (PostgreSQL) has every message with
//! its offset, so a node that missed some (a slow subscription, NATS away for a while) finds
//! them there. [`Bus::status`] says when that is needed.
//!
//! The bus logs the loss of its connection once at warn and its return once at info. The
//! async-nats client also logs every connection event itself, at info, once per failed
//! reconnection attempt: a binary that wires the bus in should filter `async_nats` to `warn`
//! by default.
//!
//! Layout:
//! - `bus`: [`Bus`], the one interface, over `local` (in process) or `nats` (a NATS server,
//!   core pub/sub), and [`Subscription`], the stream of what a subscription receives.
//! - `subject`: every subject Relay uses, under `relay.<cluster>.`, and the escaping that keeps
//!   ids inside their token.
//! - `message`, `node`, `status`: what travels, who sent it, and the connection's state.

mod bus;
mod error;
mod local;
mod message;
mod nats;
mod node;
mod status;
mod subject;

pub use bus::{Bus, Options, Subscription};
pub use error::{BusError, NameError, PublishError, SubjectError};
pub use local::LocalBus;
pub use message::{BusMessage, Echo, NODE_HEADER};
pub use nats::NatsBus;
pub use node::NodeId;
pub use status::Status;
pub use subject::{escape_token, unescape_token, Filter, Subject, Subjects, MAX_TOKEN};
