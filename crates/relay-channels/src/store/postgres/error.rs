//! What can go wrong with the PostgreSQL backend, kept apart from the driver's own error so that
//! a refusal to share the channel state reads as one, not as a database failure.

/// An error of the channel hub's PostgreSQL store.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error(transparent)]
    Pg(#[from] relay_pg::PgError),
    #[error(
        "the channel state in PostgreSQL schema `{schema}` is already owned by another channel \
         hub{holder}; one hub at a time keeps it in memory, so only one may own it (stop that \
         one, or give this one another schema with ?schema=NAME)"
    )]
    Owned { schema: String, holder: String },
    #[error("starting the channel store's runtime")]
    Runtime(#[source] std::io::Error),
    #[error("the channel store's writer stopped while opening")]
    WriterGone,
}

impl From<tokio_postgres::Error> for PostgresError {
    fn from(e: tokio_postgres::Error) -> Self {
        PostgresError::Pg(relay_pg::PgError::Driver(e))
    }
}
