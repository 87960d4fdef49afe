//! What the integration tests of the `relay` binary share: one server launcher for every face,
//! one raw HTTP client, one raw WebSocket client, and the helpers each face's tests need.

pub(crate) mod channel;
pub(crate) mod http_raw;
pub(crate) mod pushers;
pub(crate) mod queue_cli;
pub(crate) mod queue_http;
pub(crate) mod server;
pub(crate) mod ws;

/// The `relay` binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_relay");
