/// Errors of the channel client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// What is wrong is the error's source (printed after this message, so not repeated in it).
    #[error("invalid frame")]
    Invalid(#[from] relay_wire::channel::requests::RequestError),
    #[error("the client has been closed")]
    Closed,
    /// The server refused the login; the reason is the server's.
    #[error("login refused: {0}")]
    LoginRefused(String),
    /// The server URL can never work (see [`Status::Unusable`](super::Status::Unusable)).
    #[error("unusable channel server URL: {0}")]
    UnusableUrl(String),
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The cause is the error's source (printed after this message, so not repeated in it).
    #[error("HTTP request failed")]
    Http(#[from] reqwest::Error),
    #[error("server refused the request (code {code}): {message}")]
    Api { code: i64, message: String },
    #[error("unexpected response: {0}")]
    Response(String),
    /// An answer that is not the channel API's JSON (a proxy's error page, another server);
    /// `body` is its start.
    #[error("the server answered HTTP {status} with a body that is not JSON: {body}")]
    NotJson { status: u16, body: String },
}
