//! What the test modules share: a recording outbox and the stores a hub can be opened on.

pub(crate) mod recorder;
pub(crate) mod stores;
