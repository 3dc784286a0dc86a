//! A backend that misbehaves on demand, for tests of what happens when the disk errors or is
//! slow: this crate's own tests, the engine's, and a service's tests of its error handling.

use crate::backend::{Backend, Entries, Entry, MemoryBackend, SyncCounts};
use crate::error::StoreError;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Switches for a [`FaultyBackend`]; share them (`Arc`) to flip them while the log runs.
#[derive(Debug, Default)]
pub struct Faults {
    /// Event-keyspace writes (`write_atomic`, `write_each`) fail with an I/O error.
    pub fail_writes: AtomicBool,
    /// Checkpoint writes fail with an I/O error.
    pub fail_checkpoints: AtomicBool,
    /// Each flush sleeps this long first, like a disk's sync.
    pub flush_delay_ms: AtomicU64,
    /// Flushes made so far.
    pub flushes: AtomicU64,
    /// Each event-keyspace write sleeps this long first, like a slow disk (widens the time a
    /// write is under way).
    pub write_delay_ms: AtomicU64,
    /// While set, a read (`get`) of a key containing [`Faults::hold_key_part`] waits, like a
    /// disk that stalls on one record: how tests prove what else proceeds meanwhile.
    pub hold: AtomicBool,
    /// The bytes a held read's key contains (an id's 16 bytes, say); empty holds nothing.
    pub hold_key_part: Mutex<Vec<u8>>,
    /// Reads that were held so far.
    pub held_gets: AtomicU64,
}

impl Faults {
    /// Whether a read of `key` must wait now.
    fn holds(&self, key: &[u8]) -> bool {
        if !self.hold.load(Ordering::SeqCst) {
            return false;
        }
        let part = self
            .hold_key_part
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        !part.is_empty() && key.windows(part.len()).any(|w| w == part.as_slice())
    }
}

/// An in-memory backend with [`Faults`]: what it stores is a [`MemoryBackend`]'s.
#[derive(Default)]
pub struct FaultyBackend {
    inner: MemoryBackend,
    faults: Arc<Faults>,
}

impl FaultyBackend {
    /// An empty store whose faults are switched through `faults`.
    pub fn new(faults: Arc<Faults>) -> Self {
        Self {
            inner: MemoryBackend::new(),
            faults,
        }
    }

    /// The switches.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    fn check(flag: &AtomicBool, what: &str) -> Result<(), StoreError> {
        if flag.load(Ordering::SeqCst) {
            return Err(StoreError::io(
                what,
                std::io::Error::other("injected failure"),
            ));
        }
        Ok(())
    }
}

impl Backend for FaultyBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if self.faults.holds(key) {
            self.faults.held_gets.fetch_add(1, Ordering::SeqCst);
            while self.faults.holds(key) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        self.inner.get(key)
    }
    fn range<'a>(&'a self, start: &[u8], end: &[u8]) -> Entries<'a> {
        self.inner.range(start, end)
    }
    fn last_between(&self, floor: &[u8], at: &[u8]) -> Result<Option<Entry>, StoreError> {
        self.inner.last_between(floor, at)
    }
    fn write_atomic(&self, puts: Vec<Entry>) -> Result<(), StoreError> {
        Self::check(&self.faults.fail_writes, "write")?;
        self.inner.write_atomic(puts)
    }
    fn write_each(&self, puts: Vec<Entry>) -> Result<(), StoreError> {
        Self::check(&self.faults.fail_writes, "write")?;
        let delay_ms = self.faults.write_delay_ms.load(Ordering::SeqCst);
        if delay_ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        }
        self.inner.write_each(puts)
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.faults.flushes.fetch_add(1, Ordering::SeqCst);
        let delay_ms = self.faults.flush_delay_ms.load(Ordering::SeqCst);
        if delay_ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        }
        self.inner.flush()
    }
    fn read_ledger(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.read_ledger()
    }
    fn create_ledger(&self, file: &[u8]) -> Result<(), StoreError> {
        self.inner.create_ledger(file)
    }
    fn write_ledger(&self, offset: usize, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.write_ledger(offset, bytes)
    }
    fn syncs(&self) -> SyncCounts {
        SyncCounts {
            data_syncs: self.faults.flushes.load(Ordering::SeqCst),
            ..self.inner.syncs()
        }
    }
    fn location(&self) -> String {
        "memory (with injected faults)".into()
    }
    fn get_snapshot(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get_snapshot()
    }
    fn put_snapshot(&self, record: Vec<u8>) -> Result<(), StoreError> {
        Self::check(&self.faults.fail_writes, "snapshot")?;
        self.inner.put_snapshot(record)
    }
    fn checkpoint_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.checkpoint_get(key)
    }
    fn checkpoint_range<'a>(&'a self, start: &[u8], end: &[u8]) -> Entries<'a> {
        self.inner.checkpoint_range(start, end)
    }
    fn checkpoint_write(&self, puts: Vec<Entry>) -> Result<(), StoreError> {
        Self::check(&self.faults.fail_checkpoints, "checkpoint")?;
        self.inner.checkpoint_write(puts)
    }
    fn size_bytes(&self) -> u64 {
        self.inner.size_bytes()
    }
}
