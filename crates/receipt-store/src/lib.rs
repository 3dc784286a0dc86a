//! Durable event log of the receipt engine.
//!
//! Events are appended per conversation stream with an expected version, in chunks (one record
//! per appended decision or batch), each a self-describing checksummed envelope encoded with
//! the one frozen bincode configuration. The log logic is written against a small key-value
//! [`Backend`]; [`SledBackend`] is the embedded default and [`MemoryBackend`] serves tests and
//! in-memory engines. See docs/storage.md for the byte layout, durability options and recovery.

#![warn(missing_docs)]

mod backend;
mod checkpoint;
mod checkpoint_load;
mod checkpoint_verify;
mod clean_close;
mod codec;
mod error;
mod faulty;
mod group_commit;
mod keys;
mod ledger;
mod log;
mod log_commit;
mod log_index;
mod log_of_record;
mod log_open;
mod log_read;
mod log_verify;
mod open_here;
mod quiet_panic;
mod record;
mod salvage;
mod schema_v1;
mod schema_v1_threads;
mod schema_v1_upcast;
mod sled_backend;
mod store_copy;
pub mod wire;

pub use backend::{Backend, Entries, Entry, MemoryBackend, SyncCounts};
pub use checkpoint::{
    CheckpointWrite, CheckpointWritten, Marker, Unusable, CHECKPOINT_LAYOUT_VERSION,
};
pub use checkpoint_verify::CheckpointCheck;
pub use clean_close::CLEAN_CLOSE_FILE;
pub use error::StoreError;
pub use faulty::{Faults, FaultyBackend};
pub use log::{
    AppendRequest, Appended, CommandRecord, Durability, EventLog, StoredEvent, StreamEvent, Written,
};
pub use log_of_record::LogOfRecord;
pub use log_verify::{verify_store, VerifyReport};
pub use record::{FORMAT_VERSION, SNAPSHOT_STATE_VERSION};
pub use salvage::{salvage, DroppedRange, SalvageReport};
pub use schema_v1::SCHEMA_VERSION;
pub use sled_backend::{SledBackend, LEDGER_FILE};
pub use store_copy::{pre_open_copy_path, PRE_OPEN_COPY_SUFFIX};

/// A log on the embedded sled default.
pub type SledLog = EventLog<SledBackend>;
/// A log in memory.
pub type MemoryLog = EventLog<MemoryBackend>;

impl SledLog {
    /// Opens (or creates) a sled log in `dir`. `Buffered` durability lets sled flush every
    /// 500 ms in the background; the other options flush explicitly, so sled's timer is off.
    pub fn open_dir(dir: &std::path::Path, durability: Durability) -> Result<Self, StoreError> {
        let every_ms = (durability == Durability::Buffered).then_some(500);
        EventLog::open(SledBackend::open(dir, every_ms)?, durability)
    }

    /// [`SledLog::open_dir`] with sled's page cache limited to `cache_capacity_bytes`.
    pub fn open_dir_with_cache(
        dir: &std::path::Path,
        durability: Durability,
        cache_capacity_bytes: u64,
    ) -> Result<Self, StoreError> {
        let every_ms = (durability == Durability::Buffered).then_some(500);
        let backend = SledBackend::open_with_cache(dir, every_ms, cache_capacity_bytes)?;
        EventLog::open(backend, durability)
    }

    /// Opens an existing sled log to read only: nothing is written or synced by the log, and
    /// every append is refused with [`StoreError::ReadOnly`] (see
    /// [`SledBackend::open_read_only`]). A store that needs a recovery or an upgrade first is
    /// [`StoreError::NeedsRecovery`].
    pub fn open_dir_read_only(
        dir: &std::path::Path,
        cache_capacity_bytes: Option<u64>,
    ) -> Result<Self, StoreError> {
        let backend = SledBackend::open_read_only(dir, cache_capacity_bytes)?;
        // Buffered: no append ever waits for a flush (none is made).
        EventLog::open(backend, Durability::Buffered)
    }
}

impl MemoryLog {
    /// A log held in memory (nothing survives the process).
    pub fn in_memory() -> Self {
        // An empty map always opens: head and chunks agree at 0.
        match EventLog::open(MemoryBackend::new(), Durability::Buffered) {
            Ok(log) => log,
            Err(e) => unreachable!("an empty in-memory log cannot be corrupt: {e}"),
        }
    }
}
