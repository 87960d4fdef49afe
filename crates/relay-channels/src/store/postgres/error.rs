//! What can go wrong with the PostgreSQL backend, kept apart from the driver's own error so that
//! a refusal to share the channel state reads as one, not as a database failure.

use super::owner::OwnerInfo;

/// An error of the channel hub's PostgreSQL store.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error(transparent)]
    Pg(#[from] relay_pg::PgError),
    #[error(
        "the channel state in PostgreSQL schema `{schema}` is already owned by another channel \
         hub{}; one hub at a time keeps it in memory, so only one may own it (stop that \
         one, or give this one another schema with ?schema=NAME)",
        in_parens(&owner_description(owner.as_deref(), holder))
    )]
    Owned {
        schema: String,
        /// What PostgreSQL says of the session holding the lock (backend, application,
        /// address), or empty when it did not say.
        holder: String,
        /// What the owner says of itself, when it said.
        owner: Option<Box<OwnerInfo>>,
    },
    /// Another hub took the state while this one's connection was down: every later commit of
    /// this hub fails, since its memory is no longer the state's.
    #[error("this hub no longer owns the channel state in PostgreSQL schema `{schema}`: {why}")]
    Lost { schema: String, why: String },
    #[error("starting the channel store's runtime")]
    Runtime(#[source] std::io::Error),
    #[error("the channel store's writer stopped while opening")]
    WriterGone,
}

impl PostgresError {
    /// For [`PostgresError::Owned`]: the owner, as it described itself.
    pub fn owner(&self) -> Option<&OwnerInfo> {
        match self {
            PostgresError::Owned { owner, .. } => owner.as_deref(),
            _ => None,
        }
    }

    /// For [`PostgresError::Owned`]: who owns the state, as the owner and the lock describe
    /// it ("node 10.0.0.1:7720 on host a, pid 7; PostgreSQL backend pid 9, …").
    pub fn owner_description(&self) -> Option<String> {
        match self {
            PostgresError::Owned { holder, owner, .. } => {
                Some(owner_description(owner.as_deref(), holder))
            }
            _ => None,
        }
    }
}

fn owner_description(owner: Option<&OwnerInfo>, holder: &str) -> String {
    match (owner, holder.is_empty()) {
        (Some(o), false) => format!("{o}; {holder}"),
        (Some(o), true) => o.to_string(),
        (None, _) => holder.to_string(),
    }
}

fn in_parens(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!(" ({s})")
    }
}

impl From<tokio_postgres::Error> for PostgresError {
    fn from(e: tokio_postgres::Error) -> Self {
        PostgresError::Pg(relay_pg::PgError::Driver(e))
    }
}
