//! The id a node publishes under, so that every node can tell its own echoes from others'.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::NameError;
use crate::subject::check_name;

/// A node's id: 1 to 64 of `A-Z a-z 0-9 - _`. It must differ between the nodes of a cluster;
/// [`NodeId::random`] gives one that does.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(Arc<str>);

impl NodeId {
    /// Checks an id chosen by the operator (or read back from a message).
    pub fn new(id: &str) -> Result<Self, NameError> {
        check_name("node id", id)?;
        Ok(NodeId(id.into()))
    }

    /// A fresh id, unique with overwhelming likelihood: the time in milliseconds and 64
    /// random bits, in hex.
    pub fn random() -> Self {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        // std's RandomState is seeded from the OS per process, which is all the randomness an
        // id that only has to differ from the other nodes' needs.
        let random = {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(millis);
            h.write_u32(std::process::id());
            h.finish()
        };
        NodeId(format!("{millis:x}-{random:016x}").into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
