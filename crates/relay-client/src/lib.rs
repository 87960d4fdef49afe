#![warn(missing_docs)]
//! Rust clients for Relay's three faces.
//!
//! - `console`: connect to a step console instance over its Unix socket and send it commands.
//! - `channel`: a reconnecting WebSocket client for the channel face.
//! - `queue`: an HTTP client for the queue face.

//!
//! Each face is behind a Cargo feature of the same name (`queue`, `channel`, `console`), all on
//! by default.

#[cfg(feature = "channel")]
pub mod channel;
#[cfg(feature = "console")]
pub mod console;
#[cfg(feature = "queue")]
pub mod queue;
