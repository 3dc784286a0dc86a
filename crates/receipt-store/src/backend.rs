//! The key-value seam under the log. The log's logic (positions, versions, idempotency,
//! envelopes) is written once against this trait; sled and an in-memory map implement it, and
//! one conformance suite runs against both.

use crate::error::StoreError;
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

pub type Entry = (Vec<u8>, Vec<u8>);
pub type Entries<'a> = Box<dyn Iterator<Item = Result<Entry, StoreError>> + 'a>;

pub trait Backend: Send + Sync {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Entries with `start <= key < end`, in ascending key order.
    fn range<'a>(&'a self, start: &[u8], end: &[u8]) -> Entries<'a>;
    /// The greatest entry with `floor <= key <= at`.
    fn last_between(&self, floor: &[u8], at: &[u8]) -> Result<Option<Entry>, StoreError>;
    /// Writes every pair or none.
    fn write_atomic(&self, puts: Vec<Entry>) -> Result<(), StoreError>;
    /// Makes everything written so far durable.
    fn flush(&self) -> Result<(), StoreError>;
    /// Bytes the backend occupies (on disk, or in memory), for reports.
    fn size_bytes(&self) -> u64;
}

/// An ordered map in memory: for tests and for `Engine::in_memory`.
#[derive(Default)]
pub struct MemoryBackend {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        // A panic elsewhere while holding the lock cannot leave the map half-written: every
        // write below is a single insert loop with no fallible step.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Backend for MemoryBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map().get(key).cloned())
    }

    fn range<'a>(&'a self, start: &[u8], end: &[u8]) -> Entries<'a> {
        if start >= end {
            return Box::new(std::iter::empty());
        }
        let items: Vec<Entry> = self
            .map()
            .range(start.to_vec()..end.to_vec())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Box::new(items.into_iter().map(Ok))
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

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn size_bytes(&self) -> u64 {
        self.map()
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .sum()
    }
}
