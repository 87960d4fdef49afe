//! Relay's network server: one HTTP/1.1 listener that carries the queue face (Scirocco-compatible
//! HTTP) and the channel face (Moobius-compatible WebSocket plus its small HTTP API).
//!
//! Layout:
//! - `listener`: the accept loop. It speaks HTTP/1.1 through hyper directly because the queue
//!   face must write header names in Title-Case (the Python queue clients match them
//!   case-sensitively) and the channel face needs connection upgrades for WebSocket.
//! - `tls`: the certificate and key (PEM, rustls), read again on demand, and the bridge that
//!   gives the channel face a TCP socket for a WebSocket over TLS.
//! - `linger`: the lingering close of a connection whose request body was refused as too
//!   large, so that the client reads the `413` instead of a reset.
//! - `write_stall`: the transport under every connection, which gives up on a client that
//!   stops reading what it asked for.
//! - `dispatch`: decides which face a request belongs to, by its first path segment.
//! - `queue`: the queue face's HTTP handlers over `relay_queue::Queue` (the single-node engine or the shared PostgreSQL queue).
//! - `channel`: the channel face's WebSocket and HTTP handlers over `relay_channels`.
//! - `metrics`: request durations and queue operation counts, and the authenticated
//!   `/_relay/metrics` snapshot `relay top` reads.
//! - `web`: the web page for people in channels (`relay_web`'s files) under `/app/`.

pub mod channel;
mod dispatch;
mod linger;
mod listener;
pub mod metrics;
pub mod queue;
mod tls;
mod web;
mod write_stall;

pub use dispatch::{app, Faces};
pub use listener::{serve, serve_with, ServeError};
pub use tls::{TlsConfig, TlsError};
