//! The key-value seam under the log. The log's logic (positions, versions, idempotency,
//! envelopes) is written once against this trait; sled and an in-memory map implement it, and
//! one conformance suite runs against both.

use crate::error::StoreError;
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);
/// Entries in key order; each may fail on its own (I/O, damage).
pub type Entries<'a> = Box<dyn Iterator<Item = Result<Entry, StoreError>> + 'a>;

/// Sync calls a backend has made, by what they covered. Tests use them to prove that no durable
/// append is acknowledged before a sync that covers it; reports show them per append.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SyncCounts {
    /// `fdatasync` calls on the event data (sled's `db` file and its blob files).
    pub data_syncs: u64,
    /// `fdatasync` calls on the acknowledgement ledger.
    pub ledger_syncs: u64,
    /// `fsync` calls on directories (after files were created or renamed).
    pub dir_syncs: u64,
    /// Calls to `Backend::flush` begun, numbered 1, 2, ... in the order they began.
    pub flushes_started: u64,
    /// The highest number among the flushes that have returned `Ok` (flushes may overlap):
    /// everything written before flush number `n` began is on stable storage once this is
    /// at least `n`.
    pub newest_completed_flush: u64,
}

/// The ordered key-value store under the log, plus the small ledger file kept beside it.
pub trait Backend: Send + Sync + 'static {
    /// The value stored under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Entries with `start <= key < end`, in ascending key order.
    fn range<'a>(&'a self, start: &[u8], end: &[u8]) -> Entries<'a>;
    /// The greatest entry with `floor <= key <= at`.
    fn last_between(&self, floor: &[u8], at: &[u8]) -> Result<Option<Entry>, StoreError>;
    /// Writes every pair or none.
    fn write_atomic(&self, puts: Vec<Entry>) -> Result<(), StoreError>;
    /// Writes the pairs one by one, in order: after a crash some prefix of them is there.
    /// (On sled a multi-key atomic batch costs two log writes; single inserts cost none.)
    fn write_each(&self, puts: Vec<Entry>) -> Result<(), StoreError>;
    /// Makes everything written so far durable: on return it is on stable storage (sled:
    /// sled's own flush, then `fdatasync` on every file it wrote).
    fn flush(&self) -> Result<(), StoreError>;
    /// The acknowledgement ledger's bytes (`None` when there is none yet).
    fn read_ledger(&self) -> Result<Option<Vec<u8>>, StoreError>;
    /// Creates the ledger, durably, with these bytes. Never replaces an existing ledger.
    fn create_ledger(&self, file: &[u8]) -> Result<(), StoreError>;
    /// Overwrites `bytes.len()` bytes of the ledger at `offset`, durably.
    fn write_ledger(&self, offset: usize, bytes: &[u8]) -> Result<(), StoreError>;
    /// Sync calls made so far.
    fn syncs(&self) -> SyncCounts;
    /// Where the store is, for error messages (a path, or "memory").
    fn location(&self) -> String;
    /// Where the store's files are kept as they were before this open, if a copy was made
    /// (sled rewrites a damaged tail while opening, before the log can check anything).
    fn pre_open_copy(&self) -> Option<String> {
        None
    }
    /// The log checked the store at open and found it whole: the pre-open copy can go.
    fn discard_pre_open_copy(&self) {}
    /// The stored snapshot record, kept apart from the event keyspace: a large value next to
    /// keys rewritten on every append would be copied with them (sled copies whole nodes).
    fn get_snapshot(&self) -> Result<Option<Vec<u8>>, StoreError>;
    /// Replaces the snapshot record, atomically.
    fn put_snapshot(&self, record: Vec<u8>) -> Result<(), StoreError>;
    /// A checkpoint entry (checkpoint.rs): the checkpoint keyspace is kept apart from the
    /// events for the same reason as the snapshot, and is a cache of the fold, never the truth.
    fn checkpoint_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Checkpoint entries with `start <= key < end`, in ascending key order.
    fn checkpoint_range<'a>(&'a self, start: &[u8], end: &[u8]) -> Entries<'a>;
    /// Writes every checkpoint entry or none.
    fn checkpoint_write(&self, puts: Vec<Entry>) -> Result<(), StoreError>;
    /// Bytes the backend occupies (on disk, or in memory), for reports.
    fn size_bytes(&self) -> u64;
    /// Opened read-only: every write is refused with [`StoreError::ReadOnly`] and `flush`
    /// does nothing (there is nothing to make durable).
    fn read_only(&self) -> bool {
        false
    }
}

/// An ordered map in memory: for tests and for `Engine::in_memory`.
#[derive(Default)]
pub struct MemoryBackend {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
    snapshot: Mutex<Option<Vec<u8>>>,
    checkpoints: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
    ledger: Mutex<Option<Vec<u8>>>,
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        // A panic elsewhere while holding the lock cannot leave the map half-written: every
        // write below is a single insert loop with no fallible step.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn checkpoints(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.checkpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The entries of `map` with `start <= key < end`, copied (the lock is not held by the caller's
/// iteration).
fn ordered_range(map: &BTreeMap<Vec<u8>, Vec<u8>>, start: &[u8], end: &[u8]) -> Vec<Entry> {
    if start >= end {
        return Vec::new();
    }
    map.range(start.to_vec()..end.to_vec())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl Backend for MemoryBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map().get(key).cloned())
    }

    fn range<'a>(&'a self, start: &[u8], end: &[u8]) -> Entries<'a> {
        Box::new(ordered_range(&self.map(), start, end).into_iter().map(Ok))
    }

    fn last_between(&self, floor: &[u8], at: &[u8]) -> Result<Option<Entry>, StoreError> {
        if floor > at {
            return Ok(None);
        }
        Ok(self
            .map()
            .range(floor.to_vec()..=at.to_vec())
            .next_back()
            .map(|(k, v)| (k.clone(), v.clone())))
    }

    fn write_atomic(&self, puts: Vec<Entry>) -> Result<(), StoreError> {
        let mut map = self.map();
        for (k, v) in puts {
            map.insert(k, v);
        }
        Ok(())
    }

    fn write_each(&self, puts: Vec<Entry>) -> Result<(), StoreError> {
        self.write_atomic(puts)
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn read_ledger(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }

    fn create_ledger(&self, file: &[u8]) -> Result<(), StoreError> {
        let mut ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        if ledger.is_some() {
            return Err(StoreError::io_kind(
                "ledger",
                std::io::ErrorKind::AlreadyExists,
                "the ledger exists already",
            ));
        }
        *ledger = Some(file.to_vec());
        Ok(())
    }

    fn write_ledger(&self, offset: usize, bytes: &[u8]) -> Result<(), StoreError> {
        let mut ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        let file = ledger.as_mut().ok_or_else(|| {
            StoreError::io_kind("ledger", std::io::ErrorKind::NotFound, "no ledger to write")
        })?;
        let end = offset + bytes.len();
        if end > file.len() {
            return Err(StoreError::io_kind(
                "ledger",
                std::io::ErrorKind::InvalidInput,
                "write past its end",
            ));
        }
        file[offset..end].copy_from_slice(bytes);
        Ok(())
    }

    fn syncs(&self) -> SyncCounts {
        // Nothing in memory is ever synced: a memory log promises nothing past the process.
        SyncCounts::default()
    }

    fn location(&self) -> String {
        "memory".into()
    }

    fn get_snapshot(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .snapshot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }

    fn put_snapshot(&self, record: Vec<u8>) -> Result<(), StoreError> {
        *self.snapshot.lock().unwrap_or_else(PoisonError::into_inner) = Some(record);
        Ok(())
    }

    fn checkpoint_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.checkpoints().get(key).cloned())
    }

    fn checkpoint_range<'a>(&'a self, start: &[u8], end: &[u8]) -> Entries<'a> {
        Box::new(
            ordered_range(&self.checkpoints(), start, end)
                .into_iter()
                .map(Ok),
        )
    }

    fn checkpoint_write(&self, puts: Vec<Entry>) -> Result<(), StoreError> {
        self.checkpoints().extend(puts);
        Ok(())
    }

    fn size_bytes(&self) -> u64 {
        let checkpoints: u64 = self
            .checkpoints()
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .sum();
        let events: u64 = self
            .map()
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .sum();
        events
            + checkpoints
            + self
                .get_snapshot()
                .ok()
                .flatten()
                .map_or(0, |s| s.len() as u64)
    }
}
