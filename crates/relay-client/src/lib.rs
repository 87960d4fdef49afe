#![warn(missing_docs)]
//! Rust clients for Relay's three faces.
//!
//! - `console`: connect to a step console instance over its Unix socket and send it commands.
//! - `channel`: a reconnecting WebSocket client for the channel face.
//! - `queue`: an HTTP client for the queue face.

pub mod channel;
pub mod console;
pub mod queue;
