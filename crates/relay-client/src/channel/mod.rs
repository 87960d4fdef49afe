//! Channel client.
