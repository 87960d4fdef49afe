//! relay-client
