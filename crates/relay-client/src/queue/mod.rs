//! Queue client.
