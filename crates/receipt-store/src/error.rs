//! Typed storage errors. An append that returns one of these wrote nothing.

use receipt_domain::{ConversationId, EventId};

/// Why the log refused or failed an operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The stream moved on since the caller read it (optimistic concurrency).
    #[error("conflict on {conversation}: expected version {expected_version}, stream is at {actual_version}")]
    Conflict {
        /// The conversation.
        conversation: ConversationId,
        /// The stream version the caller expected.
        expected_version: u64,
        /// The stream version found.
        actual_version: u64,
    },
    /// The event ids are stored already, with different content or at another version.
    #[error("append to {conversation} at version {expected_version} repeats some stored event ids but not all")]
    DuplicateMismatch {
        /// The conversation.
        conversation: ConversationId,
        /// The stream version the caller expected.
        expected_version: u64,
    },
    /// An event of the append belongs to another stream.
    #[error("event {event} belongs to {found}, not to the stream {expected} it was appended to")]
    WrongStream {
        /// The event.
        event: EventId,
        /// The stream the append was addressed to.
        expected: ConversationId,
        /// The stream the event belongs to.
        found: ConversationId,
    },
    /// An append must hold at least one event.
    #[error("an append must carry at least one event")]
    EmptyAppend,
    /// A stored record failed its checks.
    #[error("corrupt record at position {position}: {reason}")]
    Corrupt {
        /// Log position of the record.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record of a format this version cannot read.
    #[error("record at position {position} has format {format_version}, codec {codec_id}, schema {schema_version}, which this build cannot read")]
    UnsupportedFormat {
        /// Log position of the record.
        position: u64,
        /// The record envelope version found.
        format_version: u8,
        /// The codec id found.
        codec_id: u8,
        /// The event schema version found.
        schema_version: u16,
    },
    /// An event kind this schema cannot store.
    #[error("event kind {0} has no stored form in this build")]
    UnsupportedEvent(&'static str),
    /// The operating system or sled failed (or a path cannot hold what was asked: its
    /// `source` says which, with an [`std::io::ErrorKind`]).
    /// Its message says the cause once (`source()` is `None`, so a printer of error chains
    /// does not repeat it); the `error` field holds it for matching on its kind.
    #[error("storage I/O failed at {context}: {error}")]
    Io {
        /// The path, or what was being done.
        context: String,
        /// The failure itself.
        error: std::io::Error,
    },
    /// Another process, or another handle in this process, has the store open: one process
    /// owns a store at a time. Inspect a live store through the service that owns it, or copy
    /// its directory and open the copy.
    #[error("the store at {0} is in use: one process owns a store at a time (inspect a live store through its service, or open a copy of its directory)")]
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
    /// The store was bound to an acknowledgement ledger (`receipts.ledger`) that is not there:
    /// without it, events lost from the keyspace could not be told from a shorter history.
    #[error("the store at {location} has no acknowledgement ledger (receipts.ledger), although it was created with one: without it a loss of acknowledged events cannot be detected, so the store was not opened. Put back the store's own receipts.ledger (from the backup or copy the store came from), or `receipts salvage --into NEW` copies every readable event into a new store without that check")]
    LedgerMissing {
        /// The store's path.
        location: String,
    },
    /// The ledger file belongs to another store (its tag is not the keyspace's).
    #[error("the acknowledgement ledger of the store at {location} belongs to another store (it carries store tag {ledger_tag:08x}, this store's is {store_tag:08x}); the store was not opened{note}. Put back the store's own receipts.ledger, or `receipts salvage --into NEW` copies every readable event into a new store", note = kept_note(.kept))]
    ForeignLedger {
        /// The store's path.
        location: String,
        /// The tag the ledger file carries.
        ledger_tag: u32,
        /// The tag the keyspace carries.
        store_tag: u32,
        /// Where the store's files are kept as they were before this open, if they are.
        kept: Option<String>,
    },
    /// A whole copy of the store could not be made (most often: the disk is full). Nothing of
    /// the store was changed and no partial copy is left, so freeing `needed_bytes` where the
    /// copy goes and trying again succeeds.
    #[error("could not copy the store at {location} to {copy}: {error}. The copy needs {needed_bytes} bytes free there; no partial copy was left and the store was not changed. It is {purpose}")]
    CopyFailed {
        /// The store's path.
        location: String,
        /// Where the copy was going.
        copy: String,
        /// Why a copy is made, and what to do.
        purpose: &'static str,
        /// The bytes of the store's files: what the copy needs.
        needed_bytes: u64,
        /// What the operating system said (shown in the message, so not a separate cause).
        error: std::io::Error,
    },
    /// An earlier open left a pre-open copy that shows another state of the store than the
    /// store's files do (its ledger differs): it may be the only copy of that state, so it is
    /// neither reused nor replaced.
    #[error("the store at {location} was not opened: the copy of its files an earlier open kept at {copy} shows another state than the store (their receipts.ledger files differ), so it is not this store's state before this open and was left as it is. Look at it (`receipts verify --db {copy}`), then move it away or delete it, and open again")]
    CopyInTheWay {
        /// The store's path.
        location: String,
        /// The earlier copy.
        copy: String,
    },
    /// The keyspace was written by a newer build, in a layout this one does not know.
    #[error("the store's keyspace layout is version {0}; this build reads versions 1 to 3")]
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
    /// The log of record (a log outside this process the engine appends to first, such as
    /// NATS JetStream; see [`crate::LogOfRecord`]) refused an append or did not answer.
    #[error("the log of record at {location}: {error}")]
    Remote {
        /// The log of record's name for what happened: `"NotOwned"` (another process owns the
        /// conversation's partition), `"Fenced"`, `"Conflict"`, `"Request"` (no answer: the
        /// outcome is unknown), ...
        kind: &'static str,
        /// Where the log of record is.
        location: String,
        /// What it said (for JetStream, a `receipt_jetstream::JetStreamError`), shown in the
        /// message once (so not also as `source()`).
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A write reached a store opened read-only (`SledBackend::open_read_only`): a read-only
    /// open writes nothing, so it takes no command and no checkpoint.
    #[error("the store at {location} is open read-only: it takes no writes (open it with `Engine::open` to write)")]
    ReadOnly {
        /// The store's path.
        location: String,
    },
    /// A read-only open was refused because opening the store needs writes first (a recovery
    /// after a crash, an index or a checkpoint to rebuild, a ledger to create or bind).
    #[error("the store at {location} cannot be opened read-only: {reason}. An open that may write (`Engine::open`, `receipts exec` or `receipts rebuild`) recovers it; read-only opens then write nothing")]
    NeedsRecovery {
        /// The store's path.
        location: String,
        /// What the open would have to write.
        reason: String,
    },
    /// A checkpoint entry disagrees with the log (found by `verify`). The log is intact: an
    /// engine rebuilds such an entry from the log when it meets it, and
    /// `receipts rebuild` (`rebuild_checkpoints`) rewrites them all.
    #[error("the checkpoints of the store at {location} disagree with its log: {reason}; the log itself is intact, and `receipts rebuild` rewrites every checkpoint from it")]
    CheckpointMismatch {
        /// Where the store is.
        location: String,
        /// Which entry and how.
        reason: String,
    },
}

fn kept_note(kept: &Option<String>) -> String {
    match kept {
        Some(path) => format!(" (its files as they were before this open are kept at {path})"),
        None => String::new(),
    }
}

impl StoreError {
    /// An I/O failure at `context` (a path, or what was being done).
    pub fn io(context: impl std::fmt::Display, source: std::io::Error) -> Self {
        Self::Io {
            context: context.to_string(),
            error: source,
        }
    }

    /// A failure of kind `kind` at `context` that the operating system did not report itself
    /// (a store directory that is a file, a ledger that exists already, ...).
    pub(crate) fn io_kind(
        context: impl std::fmt::Display,
        kind: std::io::ErrorKind,
        message: &str,
    ) -> Self {
        Self::io(context, std::io::Error::new(kind, message.to_string()))
    }

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
            Self::Io { .. } => "Io",
            Self::Locked(..) => "Locked",
            Self::Lost { .. } => "Lost",
            Self::Damaged { .. } => "Damaged",
            Self::LedgerMissing { .. } => "LedgerMissing",
            Self::ForeignLedger { .. } => "ForeignLedger",
            Self::CheckpointMismatch { .. } => "CheckpointMismatch",
            Self::CopyFailed { .. } => "CopyFailed",
            Self::CopyInTheWay { .. } => "CopyInTheWay",
            Self::UnsupportedLayout(..) => "UnsupportedLayout",
            Self::Unsalvageable { .. } => "Unsalvageable",
            Self::DuplicateInBatch(..) => "DuplicateInBatch",
            Self::ReadOnly { .. } => "ReadOnly",
            Self::NeedsRecovery { .. } => "NeedsRecovery",
            Self::Remote { kind, .. } => kind,
        }
    }

    /// Damage found at log position `position` (for callers that check what the log holds,
    /// such as an engine finding an event missing from the log's own index).
    pub fn corrupt(position: u64, reason: impl Into<String>) -> Self {
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
            Self::ForeignLedger {
                location,
                ledger_tag,
                store_tag,
                kept: None,
            } => Self::ForeignLedger {
                location,
                ledger_tag,
                store_tag,
                kept: copy,
            },
            other => other,
        }
    }
}
