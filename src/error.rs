//! The engine's error: what the domain, the queries or the store refused.

use receipt_domain::{DomainError, InvalidInput, QueryError};
use receipt_store::StoreError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
/// Why the engine refused a command or a query.
pub enum EngineError {
    /// The domain rejected the command (a rule of the spec, or the policy).
    #[error(transparent)]
    Rejected(#[from] DomainError),
    /// A query was refused (not allowed, unknown message, bad page size).
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The log refused or failed (conflict, corruption, I/O).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An argument was invalid before any rule was looked at (for example the policy).
    /// (Its message says the reason once: no `source()`.)
    #[error("invalid input: {0}")]
    InvalidInput(InvalidInput),
    /// A write reached the log but could not be made durable (or a batch could not be
    /// written); the engine stops taking commands rather than guess, and every later command
    /// reports the same first cause. Reopen it to recover from the log.
    #[error("the engine stopped after a storage failure ({0}); reopen it to recover from the log")]
    Stopped(std::sync::Arc<StoreError>),
}

impl From<InvalidInput> for EngineError {
    fn from(e: InvalidInput) -> Self {
        Self::InvalidInput(e)
    }
}

impl EngineError {
    /// A stable name for what went wrong: the inner domain, query or store error's variant
    /// name (`"NotARecipient"`, `"Forbidden"`, `"Lost"`, ...), or this error's own
    /// (`"Stopped"`, `"InvalidInput"`). For tallies, logs
    /// and metrics, so no caller has to parse `Debug` output.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Rejected(e) => e.kind(),
            Self::Store(e) => e.kind(),
            Self::Query(e) => e.kind(),
            Self::InvalidInput(_) => "InvalidInput",
            Self::Stopped(_) => "Stopped",
        }
    }
}
