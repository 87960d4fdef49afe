//! Helpers shared by the integration tests of the `relay` binary.

pub mod pushers;
pub mod queue_server;
