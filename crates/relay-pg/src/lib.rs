//! What Relay's PostgreSQL stores (the shared queue in relay-queue, the channel state in
//! relay-channels) share, so that both read a store URL the same way and migrate their schemas
//! by the same rules:
//!
//! - `target`: a libpq-style `postgres://` URL plus Relay's own `schema` parameter, and how to
//!   name it in a log without its password;
//! - `migrate`: versioned migrations applied in one transaction under an advisory lock, so that
//!   nodes starting at once on an empty database apply them once;
//! - `error`: what these can fail with; each store maps it into its own error type.

mod error;
mod migrate;
mod target;

pub use error::PgError;
pub use migrate::{migrate, Migrations};
pub use target::Target;
