//! What can go wrong with the shared PostgreSQL queue, kept apart from the driver's own error so
//! that the server's message, not only "db error", reaches the log and the client.

#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    /// The driver's `Display` says only "db error" or "error connecting to server"; the useful
    /// part (the server's message, the refused connection) is in its source chain, so the chain
    /// is written out here and not exposed as a source, which would print it twice.
    #[error("PostgreSQL: {}", relay_wire::error_chain::ErrorChain(.0))]
    Driver(tokio_postgres::Error),
    #[error("invalid PostgreSQL store URL: {0}")]
    Url(String),
    #[error("row {seq} of {table} cannot be read: {what}")]
    Corrupt {
        table: &'static str,
        seq: i64,
        what: String,
    },
    #[error(
        "the queue schema `{schema}` is at version {found}, newer than this Relay knows ({known}): \
         upgrade this node"
    )]
    SchemaTooNew {
        schema: String,
        found: i32,
        known: usize,
    },
    #[error("the insert of message {0} returned no row")]
    NotInserted(String),
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
