//! sled behind the backend seam: the only file that names sled.
//!
//! One tree holds the events (chunks, stream index, index watermark); snapshots live in a second
//! tree, away from the nodes every append rewrites. An append's commit point is the single
//! insert of its chunk, which sled makes atomic. sled's `flush` writes with `sync_file_range`;
//! see docs/storage.md for what that does and does not promise.

use crate::backend::{Backend, Entries, Entry};
use crate::error::StoreError;
use std::path::Path;

pub struct SledBackend {
    db: sled::Db,
    tree: sled::Tree,
    snapshots: sled::Tree,
}

const SNAPSHOT_KEY: &[u8] = b"latest";

/// How long opening waits for a store locked by a handle that is still shutting down.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

fn io(e: sled::Error) -> StoreError {
    StoreError::Io(e.to_string())
}

impl SledBackend {
    /// Opens (or creates) the store at `path`. `flush_every_ms` is sled's background flush
    /// (`None` turns it off). sled can panic on some damaged files; that becomes a typed error.
    pub fn open(path: &Path, flush_every_ms: Option<u64>) -> Result<Self, StoreError> {
        // sled's background threads can hold the directory's file lock for a moment after its
        // last handle is dropped (its own test builds block on the lock for that reason), so a
        // quick reopen in the same process waits for it rather than failing.
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match Self::open_once(path, flush_every_ms) {
                Err(StoreError::Io(msg)) if msg.contains("could not acquire lock") => {
                    if std::time::Instant::now() >= deadline {
                        return Err(StoreError::Locked(path.display().to_string()));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => return other,
            }
        }
    }

    fn open_once(path: &Path, flush_every_ms: Option<u64>) -> Result<Self, StoreError> {
        let config = sled::Config::new()
            .path(path)
            .flush_every_ms(flush_every_ms);
        // AssertUnwindSafe: on a panic nothing from inside the closure is looked at again.
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            config.open().and_then(|db| {
                let tree = db.open_tree("receipts")?;
                let snapshots = db.open_tree("snapshots")?;
                Ok((db, tree, snapshots))
            })
        }));
        match opened {
            Ok(Ok((db, tree, snapshots))) => Ok(Self {
                db,
                tree,
                snapshots,
            }),
            Ok(Err(e)) => Err(io(e)),
            Err(_) => Err(StoreError::Corrupt {
                position: 0,
                reason: format!(
                    "sled could not open {}: its files are damaged",
                    path.display()
                ),
            }),
        }
    }
}

fn entry(r: sled::Result<(sled::IVec, sled::IVec)>) -> Result<Entry, StoreError> {
    r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(io)
}

impl Backend for SledBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(key).map_err(io)?.map(|v| v.to_vec()))
    }

    fn range<'a>(&'a self, start: &[u8], end: &[u8]) -> Entries<'a> {
        if start >= end {
            return Box::new(std::iter::empty());
        }
        Box::new(self.tree.range(start.to_vec()..end.to_vec()).map(entry))
    }

    fn last_between(&self, floor: &[u8], at: &[u8]) -> Result<Option<Entry>, StoreError> {
        if floor > at {
            return Ok(None);
        }
        self.tree
            .range(floor.to_vec()..=at.to_vec())
            .next_back()
            .map(entry)
            .transpose()
    }

    fn write_atomic(&self, puts: Vec<Entry>) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (k, v) in puts {
            batch.insert(k, v);
        }
        self.tree.apply_batch(batch).map_err(io)
    }

    fn write_each(&self, puts: Vec<Entry>) -> Result<(), StoreError> {
        for (k, v) in puts {
            self.tree.insert(k, v).map_err(io)?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(io)
    }

    fn get_snapshot(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .snapshots
            .get(SNAPSHOT_KEY)
            .map_err(io)?
            .map(|v| v.to_vec()))
    }

    fn put_snapshot(&self, record: Vec<u8>) -> Result<(), StoreError> {
        self.snapshots
            .insert(SNAPSHOT_KEY, record)
            .map(|_| ())
            .map_err(io)
    }

    fn size_bytes(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}
