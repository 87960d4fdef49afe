//! Helpers shared by the integration tests of the `relay` binary.

pub(crate) mod pushers;
pub(crate) mod queue_server;
