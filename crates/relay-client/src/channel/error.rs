/// Errors of the channel client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// What is wrong is the error's source (printed after this message, so not repeated in it).
    #[error("invalid frame")]
    Invalid(#[from] relay_wire::channel::requests::RequestError),
    /// The client was closed (or its connection task ended) before the call could complete.
    #[error("the client has been closed")]
    Closed,
    /// The server refused the login; the reason is the server's.
    #[error("login refused: {0}")]
    LoginRefused(String),
    /// The server URL can never work (see [`Status::Unusable`](super::Status::Unusable)).
    #[error("unusable channel server URL: {0}")]
    UnusableUrl(String),
    /// No answer arrived within the given time.
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The cause is the error's source (printed after this message, so not repeated in it).
    #[error("HTTP request failed")]
    Http(#[from] reqwest::Error),
    /// The server answered JSON whose `code` is not the success code 10000.
    #[error("server refused the request (code {code}): {message}")]
    Api {
        /// The response's `code` key.
        code: i64,
        /// The response's `message` key (empty if absent).
        message: String,
    },
    /// The answer was JSON but lacked an expected key or shape; the text is the answer or what was
    /// missing.
    #[error("unexpected response: {0}")]
    Response(String),
    /// An answer that is not the channel API's JSON (a proxy's error page, another server);
    /// `body` is its start.
    #[error("the server answered HTTP {status} with a body that is not JSON: {body}")]
    NotJson {
        /// The HTTP status code of the answer.
        status: u16,
        /// The first 500 characters of the body, trimmed.
        body: String,
    },
}
