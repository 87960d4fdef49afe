use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("the queue engine is shutting down")]
    Closed,
}
