//! Relay's channel hub (Moobius-compatible semantics), independent of any transport.
//!
//! - `hub`: the state of accounts, services, channels, groups, UI state and message logs, plus
//!   the live connection registry and the routing of every frame.
//! - `store`: the store every change is written through to: an embedded redb file (the
//!   default) or a PostgreSQL schema ([`Hub::open_postgres`]).
//! - `auth`: argon2 password hashes and bearer tokens.
//! - `throttle`: the bound on password checks running at once and the delays for guesses.
//! - `model`: the persisted records.
//!
//! Transports (the WebSocket and HTTP handlers in `relay-server`) register each connection with
//! an [`Outbox`] of their own, feed the hub its text frames ([`Hub::on_frame`], or several at
//! once through [`Hub::batch`]) and write what the hub queues on flush; nothing here touches a
//! socket. A frame that follows a change of state (a message's `copy` and deliveries, a join's
//! `copy`) may leave only once that change is on disk: the transport tags each frame with
//! [`Commits::queued`] when the hub queues it and holds it until [`Hub::commits`] says durable.

pub mod auth;
mod error;
mod hub;
pub mod model;
mod store;
pub mod throttle;

pub use error::HubError;
pub use hub::{
    Admission, Batch, ChannelSummary, ConnHandle, ConnId, Hub, HubConfig, Kill, MessageMemory,
    Outbox, PreloginLimits, PushError, Tokens, TOO_MANY_WAITING,
};
pub use store::{host_name, Commits, FileError, Files, OwnerInfo, PostgresError, Stored, Upload};
