//! The engine's error: what the domain, the queries or the store refused.

use receipt_domain::{DomainError, InvalidInput, QueryError};
use receipt_store::StoreError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    #[error(transparent)]
    Rejected(#[from] DomainError),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("invalid input: {0}")]
    InvalidInput(#[from] InvalidInput),
    /// A write reached the log but could not be made durable; the engine stops taking
    /// commands rather than guess. Reopen it to recover from the log.
    #[error("the engine stopped after a storage failure: {0}")]
    Stopped(String),
}
