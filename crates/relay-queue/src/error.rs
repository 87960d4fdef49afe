use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("storage failed: {0}")]
    Store(#[from] StoreError),
    #[error("the queue engine is shutting down")]
    Closed,
}
