//! relay-console
