//! Step console client.
