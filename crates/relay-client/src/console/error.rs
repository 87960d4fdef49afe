use thiserror::Error;

/// Errors of the console client.
#[derive(Debug, Error)]
pub enum ConsoleClientError {
    /// Nothing listens on the address (or it refused us).
    #[error("no console instance at {address}: {source} (start one with `relay init`, or set MOULTI_INSTANCE / MOULTI_SOCKET_PATH)")]
    NoInstance {
        /// The address tried, in printable form.
        address: String,
        /// Why connecting failed.
        source: std::io::Error,
    },
    /// A frame or reply was malformed (bad framing, not JSON, unencodable message); the text says
    /// how.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The instance closed the connection before a whole reply arrived.
    #[error("the instance closed the connection")]
    Closed,
    /// Reading from or writing to the socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}
