#![warn(missing_docs)]
//! Pure codecs shared by Relay's servers and clients. Nothing here does I/O: every function
//! takes bytes or values and returns bytes or values, so servers, clients and fuzz-style tests
//! share one definition of each wire format.
//!
//! - `console`: the step console's TLV frames and JSON messages (Moulti-compatible).
//! - `channel`: the channel face's JSON payload types (Moobius-compatible).
//! - `queue`: the queue face's header names, dialects, times and payload kinds (Scirocco-compatible).
//! - `websocket`: RFC 6455 framing, for the channel face's `/ws` and the benchmark's client.

pub mod calendar;
pub mod channel;
pub mod console;
pub mod error_chain;
pub mod queue;
#[cfg(test)]
mod test_strategies;
pub mod websocket;
