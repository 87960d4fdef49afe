//! Errors of the console crate.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConsoleError {
    /// Bind or listen failed; the instance exits with status 100.
    #[error("cannot listen on {address} (with backlog=100 and blocking=False): {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("terminal error: {0}")]
    Terminal(#[source] std::io::Error),
    #[error("cannot start {command}: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("cannot save to {path}: {source}")]
    Save {
        path: String,
        source: std::io::Error,
    },
    #[error("no login name for uid {0}")]
    NoUser(u32),
}
