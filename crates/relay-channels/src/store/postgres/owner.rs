//! Who owns a schema's channel state: the record the owner writes into `channel_meta` when it
//! takes the ownership lock, so that a node refused the lock can say which node serves the
//! state (and `relay account` can find that node's admin socket), and a fencing token that a
//! writer checks whenever it takes the lock again on a new connection.
//!
//! The token is why the record exists beyond naming: an owner whose connection broke, while
//! another hub took the lock, loaded the state and perhaps stopped again, would otherwise take
//! the free lock back and write over the newer state from its stale memory. A new owner always
//! writes a new token, so the old one finds a token not its own and knows it lost ownership.

use serde::{Deserialize, Serialize};

/// A node that owns (or asks to own) the channel state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerInfo {
    /// The machine's host name.
    pub host: String,
    /// How the node names itself to its clients (its listening address, say); may be empty.
    pub node: String,
    /// Its process id.
    pub pid: u32,
    /// The node's admin socket, where `relay account …` on the same machine reaches it.
    pub admin_socket: Option<String>,
}

impl OwnerInfo {
    /// This process on this machine, named `node`.
    pub fn this_process(node: impl Into<String>, admin_socket: Option<String>) -> OwnerInfo {
        OwnerInfo {
            host: host_name(),
            node: node.into(),
            pid: std::process::id(),
            admin_socket,
        }
    }
}

impl std::fmt::Display for OwnerInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.node.is_empty() {
            write!(f, "node {} ", self.node)?;
        }
        write!(f, "on host {}, pid {}", self.host, self.pid)
    }
}

/// The machine's host name as the kernel has it, without a crate or `unsafe` for it.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// What the owner stores: who it is, and the token of this ownership.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct OwnerRecord {
    pub token: String,
    #[serde(flatten)]
    pub info: OwnerInfo,
}
