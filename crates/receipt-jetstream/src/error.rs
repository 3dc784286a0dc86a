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
    /// The partition has another owner now: this process's lease was lost, and the server
    /// refused its append (nothing appended). Stop writing to the partition.
    #[error("partition {partition} was taken over by another owner")]
    Fenced {
        /// The partition.
        partition: u32,
    },
    /// Another process holds the partition's lease until `expires_at_ms`.
    #[error("partition {partition} is owned by {holder} until {expires_at_ms} ms")]
    LeaseHeld {
        /// The partition.
        partition: u32,
        /// The owner's id.
        holder: String,
        /// When its lease ends unless renewed (Unix time, milliseconds).
        expires_at_ms: u64,
    },
    /// The lease was renewed or taken by another process since this one last held it.
    #[error("the lease of partition {partition} was lost")]
    LeaseLost {
        /// The partition.
        partition: u32,
    },
    /// The conversation is not in the partition the lease is for.
    #[error("{conversation} is not in partition {partition}")]
    WrongPartition {
        /// The conversation.
        conversation: ConversationId,
        /// The lease's partition.
        partition: u32,
    },
    /// `append_many` named a conversation twice: its second decision depends on the first's
    /// acknowledgement, so it belongs in a later call.
    #[error("{conversation} is named twice in one append_many")]
    ConversationTwice {
        /// The conversation.
        conversation: ConversationId,
    },
    /// No log with this prefix on the server (`open_existing` creates nothing).
    #[error("no receipt log with prefix {prefix} on this NATS server")]
    NoLog {
        /// The prefix looked for.
        prefix: String,
    },
    /// An append of no events.
    #[error("an append needs at least one event")]
    Empty,
    /// This process does not own the conversation's partition: route the command to the
    /// process that does ([`crate::partition_of`] names the partition).
    #[error("{conversation} is in partition {partition}, which this process does not own")]
    NotOwned {
        /// The conversation.
        conversation: ConversationId,
        /// Its partition.
        partition: u32,
    },
    /// A partition number past the log's partition count.
    #[error("partition {partition} does not exist: the log has {partitions}")]
    NoPartition {
        /// The partition asked for.
        partition: u32,
        /// The log's partition count.
        partitions: u32,
    },
    /// The directory given for an engine's replica holds a replica of another log or of other
    /// partitions (or one this build cannot tell the origin of): use a directory of its own.
    #[error("the replica in {dir} is of another log or other partitions: give this engine a directory of its own")]
    ReplicaMismatch {
        /// The directory.
        dir: String,
    },
    /// A message of a partition's stream is not a record this log wrote there: damaged, not
    /// this project's, on the wrong subject or partition, or not the next of its
    /// conversation's versions (a repeat, or one that follows a record that is not there).
    /// Nothing past it is read; the other records can be copied into a new log with
    /// [`JetStreamLog::salvage_into`](crate::JetStreamLog::salvage_into).
    #[error("partition {partition}, stream sequence {sequence}: {reason} (`receipts --nats URL --nats-prefix PREFIX salvage --into-prefix NEW` copies every other record into a new log)")]
    BadRecord {
        /// The partition.
        partition: u32,
        /// The message's sequence in the partition's stream.
        sequence: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A partition's stream is gone (deleted) from a log that had it: its history is lost,
    /// and the log never creates it again (an empty stream would pass for a short history).
    #[error("partition {partition}'s stream {stream} is missing: it was deleted, and with it the partition's history; restore it from a backup (the log never creates it again)")]
    StreamMissing {
        /// The partition.
        partition: u32,
        /// The stream's name.
        stream: String,
    },
    /// A partition's stream is not the one the log created (deleted and made again, or its
    /// record in the meta bucket changed): what it holds is not the partition's history.
    #[error("partition {partition}'s stream {stream} is not the log's: created at {found}, the log recorded {recorded}")]
    StreamReplaced {
        /// The partition.
        partition: u32,
        /// The stream's name.
        stream: String,
        /// The creation the log recorded for it.
        recorded: String,
        /// The creation the stream has.
        found: String,
    },
    /// A partition's stream ends before a sequence the log acknowledged (its high-water mark,
    /// or the last one an engine's replica holds): acknowledged messages are gone.
    #[error("partition {partition}'s stream ends at sequence {head}, but sequence {acknowledged} was acknowledged: acknowledged messages are missing")]
    PartitionShortened {
        /// The partition.
        partition: u32,
        /// The stream's last sequence.
        head: u64,
        /// The sequence known to have been stored.
        acknowledged: u64,
    },
    /// The log's meta bucket is gone while its streams exist (a new bucket is refused while any
    /// holds a message): the record of what the
    /// log holds (its partition count, its streams' identities, its high-water marks) was
    /// deleted. Nothing is created over it.
    #[error("the meta bucket of log {prefix} is missing while its stream {stream} exists (holding {messages} messages): restore the bucket from a backup")]
    MetaMissing {
        /// The log's prefix.
        prefix: String,
        /// A stream that holds messages.
        stream: String,
        /// How many.
        messages: u64,
    },
    /// [`JetStreamLog::salvage_into`](crate::JetStreamLog::salvage_into) was given a log that
    /// is not empty, or the log itself.
    #[error("salvage needs an empty log to copy into: {reason}")]
    SalvageTarget {
        /// Why the target will not do.
        reason: String,
    },
    /// The engine refused to open over the replayed partitions.
    #[error(transparent)]
    Engine(#[from] receipt_engine::EngineError),
    /// Stored bytes are damaged or not this project's (a record, a header, a subject).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl JetStreamError {
    /// The variant's name, stable across releases (`"Fenced"`, `"Conflict"`, `"NotOwned"`,
    /// ...): for logs and metrics, and the `kind` of the `StoreError::Remote` an engine reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Connect { .. } => "Connect",
            Self::Request { .. } => "Request",
            Self::Conflict { .. } => "Conflict",
            Self::PartitionsMismatch { .. } => "PartitionsMismatch",
            Self::Fenced { .. } => "Fenced",
            Self::LeaseHeld { .. } => "LeaseHeld",
            Self::LeaseLost { .. } => "LeaseLost",
            Self::WrongPartition { .. } => "WrongPartition",
            Self::ConversationTwice { .. } => "ConversationTwice",
            Self::NoLog { .. } => "NoLog",
            Self::Empty => "Empty",
            Self::NotOwned { .. } => "NotOwned",
            Self::NoPartition { .. } => "NoPartition",
            Self::ReplicaMismatch { .. } => "ReplicaMismatch",
            Self::BadRecord { .. } => "BadRecord",
            Self::StreamMissing { .. } => "StreamMissing",
            Self::StreamReplaced { .. } => "StreamReplaced",
            Self::PartitionShortened { .. } => "PartitionShortened",
            Self::MetaMissing { .. } => "MetaMissing",
            Self::SalvageTarget { .. } => "SalvageTarget",
            Self::Engine(e) => e.kind(),
            Self::Store(e) => e.kind(),
        }
    }

    pub(crate) fn bad_record(partition: u32, sequence: u64, reason: impl Into<String>) -> Self {
        Self::BadRecord {
            partition,
            sequence,
            reason: reason.into(),
        }
    }

    pub(crate) fn request(what: &'static str, e: impl std::fmt::Display) -> Self {
        Self::Request {
            what,
            reason: e.to_string(),
        }
    }
}
