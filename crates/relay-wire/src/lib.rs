//! relay-wire
