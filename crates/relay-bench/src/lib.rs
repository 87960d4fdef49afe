//! Shared helpers for the load generators in `src/bin/`.
pub mod memory;
