//! relay-channels
