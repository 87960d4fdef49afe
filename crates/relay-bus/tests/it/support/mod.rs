//! What the bus's tests share: a real nats-server, the log captured, and helpers that wait for messages.

pub(crate) mod log;
pub(crate) mod nats;
pub(crate) mod wait;
