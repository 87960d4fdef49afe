//! What can go wrong with the PostgreSQL backend, kept apart from the driver's own error so that
//! a refusal to share the channel state reads as one, not as a database failure.

/// An error of the channel hub's PostgreSQL store.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    /// The driver's `Display` says only "db error" or "error connecting to server"; the useful
    /// part (the server's message, the refused connection) is in its source chain, so the chain
    /// is written out here and not exposed as a source, which would print it twice.
    #[error("PostgreSQL: {}", relay_wire::error_chain::ErrorChain(.0))]
    Driver(tokio_postgres::Error),
    #[error("invalid PostgreSQL store URL: {0}")]
    Url(String),
    #[error(
        "the channel state in PostgreSQL schema `{schema}` is already owned by another channel \
         hub{holder}; one hub at a time keeps it in memory, so only one may own it (stop that \
         one, or give this one another schema with ?schema=NAME)"
    )]
    Owned { schema: String, holder: String },
    #[error(
        "the channel schema `{schema}` is at version {found}, newer than this Relay knows \
         ({known}): upgrade this node"
    )]
    SchemaTooNew {
        schema: String,
        found: i32,
        known: usize,
    },
    #[error("starting the channel store's runtime")]
    Runtime(#[source] std::io::Error),
    #[error("the channel store's writer stopped while opening")]
    WriterGone,
}

impl From<relay_pg::PgError> for PostgresError {
    fn from(e: relay_pg::PgError) -> Self {
        match e {
            relay_pg::PgError::Driver(e) => PostgresError::Driver(e),
            relay_pg::PgError::Url(why) => PostgresError::Url(why),
            relay_pg::PgError::SchemaTooNew {
                schema,
                found,
                known,
            } => PostgresError::SchemaTooNew {
                schema,
                found,
                known,
            },
        }
    }
}

impl From<tokio_postgres::Error> for PostgresError {
    fn from(e: tokio_postgres::Error) -> Self {
        PostgresError::Driver(e)
    }
}
