//! The bus's errors, one enum per operation that can fail.

use thiserror::Error;

/// Connecting to the bus, or subscribing on it, failed.
#[derive(Debug, Error)]
pub enum BusError {
    /// The bus URL is not one this bus speaks.
    #[error("the bus URL {url:?} is not a nats://HOST:PORT URL")]
    Url {
        /// The URL as given.
        url: String,
    },
    /// The NATS server could not be reached when the node started.
    #[error("cannot reach NATS at {url}")]
    Connect {
        /// The URL connected to.
        url: String,
        /// Why the connection failed.
        #[source]
        source: async_nats::ConnectError,
    },
    /// NATS did not take the subscription.
    #[error("cannot subscribe to {filter} on NATS")]
    Subscribe {
        /// The filter subscribed to.
        filter: String,
        /// Why the subscription failed.
        #[source]
        source: async_nats::SubscribeError,
    },
    /// The bus was closed.
    #[error("the bus is closed")]
    Closed,
}

/// A message could not be handed to the bus. Nothing was sent; the bus is at-most-once, so a
/// caller that must not lose it relies on its durable store (and the offsets there) instead.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PublishError {
    /// The outgoing buffer is full: the network (or the NATS server) does not keep up, or the
    /// connection is lost and being made again.
    #[error("the bus's outgoing buffer is full ({capacity} messages wait for the network)")]
    Full {
        /// How many messages the buffer holds.
        capacity: usize,
    },
    /// The bus was closed.
    #[error("the bus is closed")]
    Closed,
}

/// A name Relay chooses (cluster, node id, invalidation kind) has characters a subject cannot
/// carry as they are.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{what} {name:?} must be 1 to 64 of A-Z, a-z, 0-9, '-' and '_'")]
pub struct NameError {
    /// What the name names.
    pub what: &'static str,
    /// The name as given.
    pub name: String,
}

/// A subject or filter written out by hand is not valid NATS syntax (empty tokens, whitespace,
/// wildcards in a subject, `>` before the last token).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{text:?} is not a valid {what}")]
pub struct SubjectError {
    /// `subject` or `filter`.
    pub what: &'static str,
    /// The text as given.
    pub text: String,
}
