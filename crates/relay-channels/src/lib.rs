//! Relay's channel hub (Moobius-compatible semantics), independent of any transport.
//!
//! - `hub`: the state of accounts, services, channels, groups, UI state and message logs, plus
//!   the live connection registry and the routing of every frame.
//! - `store`: the embedded redb store every change is written through to.
//! - `auth`: argon2 password hashes and bearer tokens.
//! - `model`: the persisted records.
//!
//! Transports (the WebSocket and HTTP handlers in `relay-server`) call [`Hub::on_frame`] with
//! each text frame and drain [`ConnHandle::rx`]; nothing here touches a socket.

pub mod auth;
mod error;
mod hub;
pub mod model;
mod store;

pub use error::HubError;
pub use hub::{ChannelSummary, ConnHandle, ConnId, Hub, HubConfig, Kill, Outgoing, Tokens};
