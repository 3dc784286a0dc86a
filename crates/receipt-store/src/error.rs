//! Typed storage errors. An append that returns one of these wrote nothing.

use receipt_domain::{ConversationId, EventId};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("conflict on {conversation}: expected version {expected_version}, stream is at {actual_version}")]
    Conflict {
        conversation: ConversationId,
        expected_version: u64,
        actual_version: u64,
    },
    #[error("append to {conversation} at version {expected_version} repeats some stored event ids but not all")]
    DuplicateMismatch {
        conversation: ConversationId,
        expected_version: u64,
    },
    #[error("event {event} belongs to {found}, not to the stream {expected} it was appended to")]
    WrongStream {
        event: EventId,
        expected: ConversationId,
        found: ConversationId,
    },
    #[error("an append must carry at least one event")]
    EmptyAppend,
    #[error("corrupt record at position {position}: {reason}")]
    Corrupt { position: u64, reason: String },
    #[error("record at position {position} has format {format_version}, codec {codec_id}, schema {schema_version}, which this build cannot read")]
    UnsupportedFormat {
        position: u64,
        format_version: u8,
        codec_id: u8,
        schema_version: u16,
    },
    #[error("event kind {0} has no stored form in this build")]
    UnsupportedEvent(&'static str),
    #[error("storage I/O: {0}")]
    Io(String),
    #[error("the store at {0} is locked: another process (or an engine still shutting down) has it open")]
    Locked(String),
    /// Fewer events than were acknowledged as durable: the store lost acknowledged events.
    #[error("the store at {location} lost acknowledged events: {acknowledged} were acknowledged as durable, only positions 0..{found} are there, so positions {found}..{acknowledged} are lost; the store was not opened{note}. `receipts verify` reports the damage; `receipts salvage` copies every readable event into a new store", note = kept_note(.kept))]
    Lost {
        /// The store's path.
        location: String,
        /// Events the ledger records as acknowledged.
        acknowledged: u64,
        /// Where the readable log ends.
        found: u64,
        /// Where the store's files are kept as they were before this open, if they are.
        kept: Option<String>,
    },
    /// The store's files are damaged in a way that no single record explains.
    #[error("the store at {location} is damaged: {reason}; the store was not opened{note}. `receipts salvage` copies every readable event into a new store", note = kept_note(.kept))]
    Damaged {
        /// The store's path.
        location: String,
        /// What is wrong.
        reason: String,
        /// Where the store's files are kept as they were before this open, if they are.
        kept: Option<String>,
    },
    /// The keyspace was written by a newer build, in a layout this one does not know.
    #[error("the store's keyspace layout is version {0}; this build reads versions 1 and 2")]
    UnsupportedLayout(u64),
    /// Salvage could not read anything from a damaged store.
    #[error("nothing can be salvaged from the store at {location}: {reason}")]
    Unsalvageable {
        /// The damaged store's path.
        location: String,
        /// Why nothing could be read.
        reason: String,
    },
    /// The same event ids were appended twice in one batch, in different decisions.
    #[error("event {0} appears in two requests of one batch")]
    DuplicateInBatch(EventId),
}

fn kept_note(kept: &Option<String>) -> String {
    match kept {
        Some(path) => format!(" (its files as they were before this open are kept at {path})"),
        None => String::new(),
    }
}

impl StoreError {
    /// The error's variant name, stable across releases: for tallies, logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Conflict { .. } => "Conflict",
            Self::DuplicateMismatch { .. } => "DuplicateMismatch",
            Self::WrongStream { .. } => "WrongStream",
            Self::EmptyAppend => "EmptyAppend",
            Self::Corrupt { .. } => "Corrupt",
            Self::UnsupportedFormat { .. } => "UnsupportedFormat",
            Self::UnsupportedEvent(..) => "UnsupportedEvent",
            Self::Io(..) => "Io",
            Self::Locked(..) => "Locked",
            Self::Lost { .. } => "Lost",
            Self::Damaged { .. } => "Damaged",
            Self::UnsupportedLayout(..) => "UnsupportedLayout",
            Self::Unsalvageable { .. } => "Unsalvageable",
            Self::DuplicateInBatch(..) => "DuplicateInBatch",
        }
    }

    pub(crate) fn corrupt(position: u64, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            position,
            reason: reason.into(),
        }
    }

    /// The same error, saying where the store's files were kept before the open.
    pub(crate) fn with_kept_copy(self, copy: Option<String>) -> Self {
        match self {
            Self::Lost {
                location,
                acknowledged,
                found,
                kept: None,
            } => Self::Lost {
                location,
                acknowledged,
                found,
                kept: copy,
            },
            Self::Damaged {
                location,
                reason,
                kept: None,
            } => Self::Damaged {
                location,
                reason,
                kept: copy,
            },
            other => other,
        }
    }
}
