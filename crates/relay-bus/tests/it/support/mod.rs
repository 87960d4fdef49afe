//! What the bus's tests share: a real nats-server, and helpers that wait for messages.

pub(crate) mod nats;
pub(crate) mod wait;
