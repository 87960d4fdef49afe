//! relay-queue
