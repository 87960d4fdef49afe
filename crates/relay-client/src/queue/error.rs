//! What can go wrong talking to the queue face. Every HTTP status the protocol defines for a
//! refusal has its own variant, so callers can tell a wrong token from a missing message.

use std::time::Duration;

/// Errors of the queue client.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// 403: the server refused the `Authorization` token.
    #[error("the server refused the queue token (403: {message})")]
    WrongToken {
        /// The `message` of the server's JSON error body, or the body as text if it is not JSON.
        message: String,
    },

    /// 404: unknown id, or a message this node may not see or change (the protocol does not
    /// tell the two apart, so that ids of other nodes' messages do not leak).
    #[error("not found (404: {message})")]
    NotFound {
        /// The `message` of the server's JSON error body, or the body as text if it is not JSON.
        message: String,
    },

    /// 400 with the server's explanation; `errors` holds the per-field validation details
    /// when the server sent them (keyed by the dialect's JSON field names).
    #[error("bad request (400): {message}")]
    BadRequest {
        /// The `message` of the server's JSON error body, or the body as text if it is not JSON.
        message: String,
        /// The body's `errors` object; `None` when the server sent none.
        errors: Option<serde_json::Value>,
    },

    /// 413: the body is over the server's limit for its content type.
    #[error("payload too large for the server (413: {message})")]
    TooLarge {
        /// The `message` of the server's JSON error body, or the body as text if it is not JSON.
        message: String,
    },

    /// The server closed the connection while the body was being sent, without an answer the
    /// client could read: most likely it refused the body for its size before reading it all.
    #[error("the server closed the connection while receiving the {bytes}-byte body (probably over its size limit)")]
    UploadCut {
        /// The size of the body being sent, in bytes.
        bytes: usize,
        /// The transport error the cut connection gave.
        source: reqwest::Error,
    },

    /// Any other status the operation does not expect.
    #[error("unexpected HTTP status {status}: {message}")]
    UnexpectedStatus {
        /// The HTTP status code of the answer.
        status: u16,
        /// The `message` of the server's JSON error body, or the body as text if it is not JSON.
        message: String,
    },

    /// No answer within the client's timeout (the duration given).
    #[error("no answer within {0:?}")]
    Timeout(Duration),

    /// The cause (connection refused, reset…) is the error's source.
    #[error("could not reach the queue server")]
    Transport(#[source] reqwest::Error),

    /// The server answered, but not in the shape the protocol describes.
    #[error("malformed response from the server: {0}")]
    InvalidResponse(String),

    /// Message ids are hexadecimal; anything else cannot name a message.
    #[error("not a message id: {0:?}")]
    InvalidId(String),

    /// The base URL given to the client cannot be used (not `http://`, no host, unparsable).
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it cannot be used.
        reason: String,
    },

    /// Header values must be visible ASCII; a node id or label that is not cannot be sent.
    #[error("invalid value for {what}: {value:?}")]
    InvalidHeaderValue {
        /// Which value it was: `token`, `node`, `destination`, `label` or `scheduled time`.
        what: &'static str,
        /// The value as given.
        value: String,
    },
}

impl QueueError {
    /// Builds the error for a non-success status from the server's JSON error body
    /// (`{"message": ..., "errors": {...}}`); a body that is not JSON is quoted as text.
    pub(crate) fn from_status(status: u16, body: &[u8]) -> QueueError {
        let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        let message = parsed
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(|m| m.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
        match status {
            400 => QueueError::BadRequest {
                message,
                errors: parsed.and_then(|mut v| v.get_mut("errors").map(serde_json::Value::take)),
            },
            403 => QueueError::WrongToken { message },
            404 => QueueError::NotFound { message },
            413 => QueueError::TooLarge { message },
            _ => QueueError::UnexpectedStatus { status, message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_variants_with_the_server_message() {
        match QueueError::from_status(403, br#"{"message":"Incorrect auth token."}"#) {
            QueueError::WrongToken { message } => assert_eq!(message, "Incorrect auth token."),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            QueueError::from_status(404, br#"{"message":"Resource not found."}"#),
            QueueError::NotFound { .. }
        ));
        assert!(matches!(
            QueueError::from_status(413, b"{}"),
            QueueError::TooLarge { .. }
        ));
        match QueueError::from_status(502, b"  bad gateway\n") {
            QueueError::UnexpectedStatus { status, message } => {
                assert_eq!((status, message.as_str()), (502, "bad gateway"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn validation_details_are_kept() {
        let body = br#"{"message":"Message validation failed","errors":{"node_destination":{"message":"Field must be in hexadecimal."}}}"#;
        match QueueError::from_status(400, body) {
            QueueError::BadRequest { message, errors } => {
                assert_eq!(message, "Message validation failed");
                assert_eq!(
                    errors.unwrap()["node_destination"]["message"],
                    "Field must be in hexadecimal."
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
