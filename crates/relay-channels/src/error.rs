//! The hub's error type.

/// Everything that can go wrong in the channel hub. HTTP handlers map each variant to an
/// envelope code; WebSocket handlers turn it into a failed `copy`.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("the channel store is already open in another process (is `relay serve` running?)")]
    Locked,
    #[error("store")]
    Store(#[from] redb::Error),
    #[error("channel store on PostgreSQL")]
    Postgres(#[from] crate::store::PostgresError),
    #[error("store I/O")]
    Io(#[from] std::io::Error),
    #[error("the store's writer has stopped")]
    WriterGone,
    #[error("invalid credentials")]
    BadCredentials,
    #[error("too many failed sign-ins for this account or from this address; try again in {retry_after_s} s")]
    Throttled { retry_after_s: u64 },
    #[error("the server is checking too many passwords at once; try again in a few seconds")]
    Busy,
    #[error("invalid or expired token")]
    BadToken,
    #[error("account {0} already exists")]
    AccountExists(String),
    #[error("open sign-up is disabled on this server; ask the operator for an account")]
    SignupClosed,
    #[error("not found: {0}")]
    NotFound(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl HubError {
    /// Shorthand for the store's many error types, all of which convert into `redb::Error`.
    pub(crate) fn store<E: Into<redb::Error>>(e: E) -> Self {
        match e.into() {
            redb::Error::DatabaseAlreadyOpen => HubError::Locked,
            other => HubError::Store(other),
        }
    }
}
