//! The listener under hostile or vanishing HTTP clients, and its shutdown.

mod fd_exhaustion;
mod shutdown;
mod stalled_write;
