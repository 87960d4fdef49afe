//! What a subscription yields.

use bytes::Bytes;

use crate::node::NodeId;
use crate::subject::Subject;

/// The NATS header that carries the publishing node's id.
pub const NODE_HEADER: &str = "Relay-Node";

/// One message from the bus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusMessage {
    /// The subject it was published on (a subscription with wildcards says which one here).
    pub subject: Subject,
    /// The node that published it.
    pub origin: NodeId,
    /// The bytes as published.
    pub payload: Bytes,
}

/// Whether a subscription also yields the messages its own node published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Echo {
    /// Only other nodes' messages: what a node wants that has delivered its own already.
    Skip,
    /// Every message, the node's own included.
    Include,
}
