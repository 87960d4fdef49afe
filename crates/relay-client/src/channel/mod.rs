//! Channel client: a reconnecting WebSocket client for Relay's channel face (the capabilities of
//! the Moobius SDK's `WSClient`, without its reconnect races) plus a small HTTP API client.
//!
//! - `ws`: [`ChannelClient`]: connects with backoff (a URL it can never use, such as wss://,
//!   stops it at once), logs in first on every socket, keeps an
//!   outbound queue across reconnects (unacknowledged frames are re-sent, in order), heartbeats,
//!   reconnects when nothing arrives within the receive timeout, and calls a handler whose errors
//!   are logged, never fatal.
//! - `http`: [`ChannelHttp`]: sign-in, channels, services, groups, history.
//! - `frame`: [`ServerFrame`], a received frame with Relay's offset/epoch extension.

mod error;
mod frame;
mod http;
mod ws;

pub use error::ClientError;
pub use frame::ServerFrame;
pub use http::ChannelHttp;
pub use relay_wire::channel::inbound::ResumeFrom;
pub use relay_wire::channel::requests::UpdateContent;
pub use relay_wire::channel::types;
pub use ws::{ChannelClient, ClientConfig, Handler, Login, Pending, Status};
