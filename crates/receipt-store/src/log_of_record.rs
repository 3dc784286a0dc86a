//! The seam to a log of record kept outside this process (NATS JetStream, in
//! `receipt-jetstream`): an engine given one appends each decision there first, and keeps its
//! own log as a replica of the partitions it owns.
//!
//! Why the own log stays: a distributed log orders and keeps decisions, but has none of the
//! indexes the engine looks things up by (a message id's conversation, a command id's events,
//! an event id's version). The replica gives them, rebuilt from the log of record when the
//! engine opens; the log of record is the truth.

use crate::error::StoreError;
use crate::log::AppendRequest;
use receipt_domain::{CommandId, ConversationId};

/// A log of record the engine appends to before its own log.
///
/// Invariant: once `append` returns `Ok`, the decisions are durable in the log of record (what
/// durable means there is the implementation's to document), in the order given.
pub trait LogOfRecord: Send + Sync + 'static {
    /// Whether this process may write `conversation` (it owns the conversation's partition):
    /// `Err` ([`StoreError::Remote`], kind `"NotOwned"`) if not. Asked before anything is
    /// decided, so a command routed to the wrong process changes nothing.
    fn accepts(&self, conversation: &ConversationId) -> Result<(), StoreError>;

    /// Appends the decisions, in order, each at its expected version; returns once all are
    /// durable. On `Err` ([`StoreError::Remote`]) any prefix of them may be stored: the caller
    /// can no longer tell whether its replica matches the log of record, so an engine stops and
    /// is reopened (which rebuilds the replica from the log of record).
    fn append(&self, requests: &[AppendRequest]) -> Result<(), StoreError>;

    /// Records that `command`, concerning `conversation`, was accepted as a no-op, so a retry
    /// after a reopening gets the same answer. On `Err` the caller treats its replica as stale,
    /// as for [`LogOfRecord::append`].
    fn record_noop(
        &self,
        conversation: &ConversationId,
        command: CommandId,
    ) -> Result<(), StoreError>;

    /// Where the log of record is, for messages (a URL and a prefix).
    fn location(&self) -> String;
}
