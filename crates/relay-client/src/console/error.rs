use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConsoleClientError {
    /// Nothing listens on the address (or it refused us).
    #[error("no console instance at {address}: {source} (start one with `relay init`, or set MOULTI_INSTANCE / MOULTI_SOCKET_PATH)")]
    NoInstance {
        address: String,
        source: std::io::Error,
    },
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("the instance closed the connection")]
    Closed,
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}
