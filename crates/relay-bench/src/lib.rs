//! Shared helpers for the load generators in `src/bin/`.
