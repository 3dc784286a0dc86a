//! The checkpoint cache in a sled database of its own, `<store>/checkpoints/`, apart from the
//! log's. Why: sled's recovery treats the first record it cannot read as the end of its log and
//! drops everything after it. With the cache in the log's database, one damaged checkpoint
//! value (a blob file, a page) cost every event written after it: a cache stopped the store
//! from opening (`Lost`). Apart, damage to the cache costs at most the cache, which the engine
//! rebuilds from the log.
//!
//! Nothing in it is believed without its checks (checkpoint.rs, checkpoint_load.rs), so the
//! database needs no durability of its own: it is flushed by sled in the background and when
//! the store closes, and an entry that carries a marker is written only once the log is
//! durable up to the marker (a lost event can never be covered by a surviving entry). A cache
//! sled cannot open at all is removed and begun again, with a warning.

use super::{entry, guarded, is_lock_error};
use crate::backend::{Entries, Entry};
use crate::error::StoreError;
use crate::quiet_panic;
use std::path::{Path, PathBuf};

/// The checkpoint database's directory inside the store directory.
pub const CHECKPOINT_DIR: &str = "checkpoints";

/// The checkpoint cache of one store.
pub(super) struct CheckpointDb {
    db: sled::Db,
    tree: sled::Tree,
    dir: PathBuf,
}

impl CheckpointDb {
    /// Opens (or creates) the cache of the store at `store`; one sled cannot open is begun
    /// again, empty.
    pub(super) fn open(
        store: &Path,
        flush_every_ms: Option<u64>,
        cache_capacity_bytes: Option<u64>,
    ) -> Result<Self, StoreError> {
        let dir = store.join(CHECKPOINT_DIR);
        match Self::open_at(&dir, flush_every_ms, cache_capacity_bytes) {
            Ok(db) => Ok(db),
            Err(e) if is_lock_error(&e) => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, dir = %dir.display(), "the checkpoint cache cannot be opened; it is begun again and rebuilt from the log");
                std::fs::remove_dir_all(&dir).map_err(|e| StoreError::io(dir.display(), e))?;
                Self::open_at(&dir, flush_every_ms, cache_capacity_bytes)
            }
        }
    }

    fn open_at(
        dir: &Path,
        flush_every_ms: Option<u64>,
        cache_capacity_bytes: Option<u64>,
    ) -> Result<Self, StoreError> {
        let mut config = sled::Config::new().path(dir).flush_every_ms(flush_every_ms);
        if let Some(bytes) = cache_capacity_bytes {
            config = config.cache_capacity(bytes);
        }
        let (db, tree) = guarded(dir, || {
            let db = config.open()?;
            let tree = db.open_tree("checkpoints")?;
            Ok((db, tree))
        })?;
        Ok(Self {
            db,
            tree,
            dir: dir.to_path_buf(),
        })
    }

    pub(super) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(guarded(&self.dir, || self.tree.get(key))?.map(|v| v.to_vec()))
    }

    pub(super) fn range<'a>(&'a self, start: &[u8], end: &[u8]) -> Entries<'a> {
        if start >= end {
            return Box::new(std::iter::empty());
        }
        let mut iter = self.tree.range(start.to_vec()..end.to_vec());
        Box::new(std::iter::from_fn(move || {
            match quiet_panic::catch(|| iter.next()) {
                Ok(item) => item.map(|r| entry(&self.dir, r)),
                Err(panic) => Some(Err(super::damaged(
                    &self.dir,
                    format!("sled failed on damaged data: {panic}"),
                ))),
            }
        }))
    }

    pub(super) fn write(&self, puts: Vec<Entry>) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (k, v) in puts {
            batch.insert(k, v);
        }
        guarded(&self.dir, || self.tree.apply_batch(batch))
    }

    /// Writes sled's buffers (no sync: nothing here is relied on without its checks).
    pub(super) fn flush(&self) {
        if let Err(e) = guarded(&self.dir, || self.db.flush()) {
            tracing::warn!(error = %e, "the checkpoint cache was not flushed");
        }
    }

    pub(super) fn size_bytes(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}
