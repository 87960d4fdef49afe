//! What can go wrong with the shared PostgreSQL queue: the driver, the URL and the schema's
//! version (`relay_pg::PgError`, which writes the driver's whole cause out, not only "db
//! error"), and rows this build cannot read.

#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error(transparent)]
    Pg(#[from] relay_pg::PgError),
    #[error("row {seq} of {table} cannot be read: {what}")]
    Corrupt {
        table: &'static str,
        seq: i64,
        what: String,
    },
    #[error("the insert of message {0} returned no row")]
    NotInserted(String),
}

impl From<tokio_postgres::Error> for PostgresError {
    fn from(e: tokio_postgres::Error) -> Self {
        PostgresError::Pg(relay_pg::PgError::Driver(e))
    }
}
