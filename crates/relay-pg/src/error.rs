//! What reading a store URL or migrating a schema can fail with.

/// An error of the shared PostgreSQL helpers; each store turns it into its own error type.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The driver's `Display` says only "db error" or "error connecting to server"; the useful
    /// part (the server's message, the refused connection) is in its source chain, so the chain
    /// is written out here and not exposed as a source, which would print it twice.
    #[error("PostgreSQL: {}", relay_wire::error_chain::ErrorChain(.0))]
    Driver(tokio_postgres::Error),
    #[error("invalid PostgreSQL store URL: {0}")]
    Url(String),
    #[error(
        "the schema `{schema}` is at version {found}, newer than this Relay knows ({known}): \
         upgrade this node"
    )]
    SchemaTooNew {
        schema: String,
        found: i32,
        known: usize,
    },
}

impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> Self {
        PgError::Driver(e)
    }
}
