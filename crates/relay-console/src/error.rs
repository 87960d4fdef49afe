//! Errors of the console crate.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConsoleError {
    /// Bind or listen failed; the instance exits with status 100.
    #[error("cannot listen on {address} (with backlog=100 and blocking=False)")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("terminal error")]
    Terminal(#[source] std::io::Error),
    #[error("cannot start {command}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("cannot save to {path}")]
    Save {
        path: String,
        source: std::io::Error,
    },
    #[error("no login name for uid {0}")]
    NoUser(u32),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real chain: binding a path in a missing folder. The message names the address, the
    /// cause comes from `source()`, and the printed chain shows each exactly once.
    #[test]
    fn listen_error_chain_shows_each_cause_once() {
        let address = "/nonexistent-relay-dir/socket";
        let source = std::os::unix::net::UnixListener::bind(address).unwrap_err();
        let cause = source.to_string();
        let err = ConsoleError::Listen {
            address: address.into(),
            source,
        };
        assert!(
            !err.to_string().contains(&cause),
            "message repeats its cause: {err}"
        );
        let printed = relay_wire::error_chain::ErrorChain(&err).to_string();
        assert_eq!(printed.matches(&cause).count(), 1, "{printed}");
        assert_eq!(printed.matches(address).count(), 1, "{printed}");
        assert!(
            printed.starts_with("cannot listen on /nonexistent-relay-dir/socket"),
            "{printed}"
        );
    }
}
