//! What the JetStream log refuses or fails at.

use receipt_domain::ConversationId;
use receipt_store::StoreError;

/// Why a JetStream log operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JetStreamError {
    /// The server could not be reached (the URL, or the server is down).
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect {
        /// The URL tried.
        url: String,
        /// What the client said.
        reason: String,
    },
    /// A request to the server failed; `what` says which. For an append this means its outcome
    /// is unknown: retry the same events (the retry is deduplicated or recognised).
    #[error("NATS request failed ({what}): {reason}")]
    Request {
        /// The operation.
        what: &'static str,
        /// What the client said.
        reason: String,
    },
    /// The conversation's stream is not at the version the append expected: another writer
    /// appended first (or this writer lost ownership). Nothing was appended.
    #[error("{conversation} is at version {actual}, the append expected {expected}")]
    Conflict {
        /// The conversation.
        conversation: ConversationId,
        /// The version the append was decided at.
        expected: u64,
        /// The version the server holds.
        actual: u64,
    },
    /// The cluster records another partition count than the one asked for: partitions are
    /// fixed when the log is created.
    #[error("the log has {stored} partitions; {asked} were asked for")]
    PartitionsMismatch {
        /// The count recorded in the cluster.
        stored: u32,
        /// The count in the options.
        asked: u32,
    },
    /// An append of no events.
    #[error("an append needs at least one event")]
    Empty,
    /// Stored bytes are damaged or not this project's (a record, a header, a subject).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl JetStreamError {
    pub(crate) fn request(what: &'static str, e: impl std::fmt::Display) -> Self {
        Self::Request {
            what,
            reason: e.to_string(),
        }
    }
}
