use thiserror::Error;

/// Errors of the console client.
#[derive(Debug, Error)]
pub enum ConsoleClientError {
    /// Nothing listens on the address (or it refused us). The cause is left to `source()`, so
    /// print the error with its chain (`relay_wire::error_chain::ErrorChain`).
    #[error("no console instance at {address} (start one with `relay init`, or set MOULTI_INSTANCE / MOULTI_SOCKET_PATH)")]
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
    /// Reading from or writing to the socket failed; the cause is `source()`.
    #[error("reading from or writing to the instance failed")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::ConsoleClientError;
    use relay_wire::error_chain::ErrorChain;

    /// Written with its chain, each error shows its cause once, after the message.
    #[test]
    fn each_cause_is_printed_once() {
        let no_instance = ConsoleClientError::NoInstance {
            address: "@moulti-x.socket".into(),
            source: std::io::Error::other("refused"),
        };
        assert_eq!(
            ErrorChain(&no_instance).to_string(),
            "no console instance at @moulti-x.socket (start one with `relay init`, or set \
             MOULTI_INSTANCE / MOULTI_SOCKET_PATH): refused"
        );
        let io = ConsoleClientError::from(std::io::Error::other("broken pipe"));
        assert_eq!(
            ErrorChain(&io).to_string(),
            "reading from or writing to the instance failed: broken pipe"
        );
    }
}
