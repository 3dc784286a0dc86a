//! sled behind the backend seam: with its child `open.rs`, the only module that names sled.
//!
//! One tree holds the events (chunks, stream index, event-id index, index watermark); snapshots
//! live in a second tree, away from the nodes every append rewrites. An append's commit point is
//! the single insert of its chunk, which sled makes atomic.
//!
//! Durability: sled's `flush` writes its buffers with `sync_file_range`, which flushes neither
//! the drive's cache nor file metadata, and sled writes large pages to blob files with no sync
//! at all. So [`SledBackend::flush`] follows sled's flush with `fdatasync` on every blob file
//! not yet synced and on `db`, and `fsync` on a directory whose entries changed. The ledger
//! (`receipts.ledger`, see ledger.rs) is a file of ours, synced on every write.

use crate::backend::{Backend, Entries, Entry, SyncCounts};
use crate::error::StoreError;
use crate::quiet_panic;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::clean_close;
use crate::open_here;
use crate::store_copy;

mod open;

/// The embedded default backend: a sled database in one directory, plus the ledger file.
pub struct SledBackend {
    db: sled::Db,
    tree: sled::Tree,
    snapshots: sled::Tree,
    dir: PathBuf,
    /// A second handle on sled's `db` file: sled never fsyncs it, we do.
    db_file: File,
    /// Blob files already synced, with the length they had then.
    synced_blobs: Mutex<HashMap<OsString, u64>>,
    ledger: Mutex<Option<File>>,
    /// The store's files as they were before sled opened them, until the log's checks pass.
    pre_open_copy: Mutex<Option<PathBuf>>,
    /// The log checked the store at open and found it whole: a clean close may be recorded.
    checked_whole: AtomicBool,
    /// A store opened to write to (not a scratch copy): its clean close is recorded.
    marks_clean_close: bool,
    /// Opened by [`SledBackend::open_read_only`]: writes are refused, flushes do nothing.
    read_only: bool,
    data_syncs: AtomicU64,
    ledger_syncs: AtomicU64,
    dir_syncs: AtomicU64,
    flushes_started: AtomicU64,
    newest_completed_flush: AtomicU64,
    /// This process's claim on the directory; the last field, so it is released after sled's
    /// handles are dropped.
    _claim: Option<open_here::Claim>,
}

const SNAPSHOT_KEY: &[u8] = b"latest";
/// Checkpoint entries share the snapshot tree under this prefix ("latest" never starts with it).
const CHECKPOINT_PREFIX: &[u8] = b"\xFFckpt/";

fn checkpoint_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(CHECKPOINT_PREFIX.len() + key.len());
    k.extend_from_slice(CHECKPOINT_PREFIX);
    k.extend_from_slice(key);
    k
}
/// The ledger's file name inside the store directory.
pub const LEDGER_FILE: &str = "receipts.ledger";
const DB_FILE: &str = "db";
const BLOBS_DIR: &str = "blobs";

fn io(e: sled::Error) -> StoreError {
    match e {
        sled::Error::Io(source) => StoreError::io("sled", source),
        other => StoreError::io("sled", std::io::Error::other(other)),
    }
}

/// sled's error for a `db` file another handle has locked.
fn is_lock_error(e: &StoreError) -> bool {
    matches!(e, StoreError::Io { error, .. } if error.to_string().contains("could not acquire lock"))
}

fn damaged(dir: &Path, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Damaged {
        location: dir.display().to_string(),
        reason: reason.to_string(),
        kept: None,
    }
}

/// Runs a sled call; a panic inside sled (damaged pages) becomes a typed error.
fn guarded<T>(dir: &Path, f: impl FnOnce() -> sled::Result<T>) -> Result<T, StoreError> {
    match quiet_panic::catch(f) {
        Ok(r) => r.map_err(|e| sled_error(dir, e)),
        Err(panic) => Err(damaged(
            dir,
            format!("sled failed on damaged data: {panic}"),
        )),
    }
}

/// A sled error: damage sled noticed is [`StoreError::Damaged`]; the rest is I/O.
fn sled_error(dir: &Path, e: sled::Error) -> StoreError {
    match e {
        sled::Error::Corruption { at, .. } => damaged(
            dir,
            match at {
                Some(at) => format!("sled found damaged data at {at:?} in its files"),
                None => "sled found damaged data in its files".to_string(),
            },
        ),
        // sled reads its `conf` first: a damaged one (or another sled version's) lands here,
        // before sled has written anything.
        sled::Error::Unsupported(what) => damaged(
            dir,
            format!("sled cannot use its files (its `conf` is damaged or from another sled version): {what}"),
        ),
        other => io(other),
    }
}

fn file_io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::io(path.display(), e)
}

impl SledBackend {
    fn refuse_if_read_only(&self) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly {
                location: self.dir.display().to_string(),
            });
        }
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> Result<(), StoreError> {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| file_io(dir, e))?;
        self.dir_syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// `fdatasync`s every blob file that is new or has grown since it was last synced. sled
    /// writes a blob completely before the log record pointing at it, and sled's flush has
    /// written those records, so every blob an acknowledged write needs is complete here.
    fn sync_blobs(&self) -> Result<(), StoreError> {
        let blobs = self.dir.join(BLOBS_DIR);
        let entries = match std::fs::read_dir(&blobs) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(file_io(&blobs, e)),
        };
        let mut synced = self
            .synced_blobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut seen = HashMap::with_capacity(synced.len());
        let mut created = false;
        for entry in entries {
            let entry = entry.map_err(|e| file_io(&blobs, e))?;
            let name = entry.file_name();
            let path = entry.path();
            // sled removes stale blobs concurrently: a file gone meanwhile needs no sync.
            let Ok(meta) = entry.metadata() else { continue };
            let len = meta.len();
            if synced.get(&name) != Some(&len) {
                match File::open(&path) {
                    Ok(f) => f.sync_data().map_err(|e| file_io(&path, e))?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(file_io(&path, e)),
                }
                self.data_syncs.fetch_add(1, Ordering::Relaxed);
                created |= !synced.contains_key(&name);
            }
            seen.insert(name, len);
        }
        *synced = seen;
        drop(synced);
        if created {
            self.sync_dir(&blobs)?;
        }
        Ok(())
    }
}

impl Drop for SledBackend {
    /// A store whose open passed the log's checks records a clean close once a final flush
    /// (sled's, then `fdatasync` of its files) succeeded; the next open then needs no copy.
    fn drop(&mut self) {
        if !self.marks_clean_close || !self.checked_whole.load(Ordering::SeqCst) {
            return;
        }
        let closed = self.flush().and_then(|()| clean_close::mark(&self.dir));
        if let Err(e) = closed {
            // Harmless: the next open copies the files first, as after a crash.
            tracing::warn!(error = %e, "clean close not recorded");
        }
    }
}

fn entry(dir: &Path, r: sled::Result<(sled::IVec, sled::IVec)>) -> Result<Entry, StoreError> {
    r.map(|(k, v)| (k.to_vec(), v.to_vec()))
        .map_err(|e| sled_error(dir, e))
}

impl Backend for SledBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(guarded(&self.dir, || self.tree.get(key))?.map(|v| v.to_vec()))
    }

    fn range<'a>(&'a self, start: &[u8], end: &[u8]) -> Entries<'a> {
        if start >= end {
            return Box::new(std::iter::empty());
        }
        let mut iter = self.tree.range(start.to_vec()..end.to_vec());
        Box::new(std::iter::from_fn(move || {
            match quiet_panic::catch(|| iter.next()) {
                Ok(item) => item.map(|r| entry(&self.dir, r)),
                Err(panic) => Some(Err(damaged(
                    &self.dir,
                    format!("sled failed on damaged data: {panic}"),
                ))),
            }
        }))
    }

    fn last_between(&self, floor: &[u8], at: &[u8]) -> Result<Option<Entry>, StoreError> {
        if floor > at {
            return Ok(None);
        }
        let last = guarded(&self.dir, || {
            self.tree
                .range(floor.to_vec()..=at.to_vec())
                .next_back()
                .transpose()
        })?;
        Ok(last.map(|(k, v)| (k.to_vec(), v.to_vec())))
    }

    fn write_atomic(&self, puts: Vec<Entry>) -> Result<(), StoreError> {
        self.refuse_if_read_only()?;
        let mut batch = sled::Batch::default();
        for (k, v) in puts {
            batch.insert(k, v);
        }
        guarded(&self.dir, || self.tree.apply_batch(batch))
    }

    fn write_each(&self, puts: Vec<Entry>) -> Result<(), StoreError> {
        self.refuse_if_read_only()?;
        for (k, v) in puts {
            guarded(&self.dir, || self.tree.insert(k, v))?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        if self.read_only {
            // Nothing was written: nothing to make durable, and no sync call.
            return Ok(());
        }
        let number = self.flushes_started.fetch_add(1, Ordering::SeqCst) + 1;
        guarded(&self.dir, || self.db.flush())?;
        self.sync_blobs()?;
        let db_path = self.dir.join(DB_FILE);
        self.db_file.sync_data().map_err(|e| file_io(&db_path, e))?;
        self.data_syncs.fetch_add(1, Ordering::Relaxed);
        self.newest_completed_flush
            .fetch_max(number, Ordering::SeqCst);
        Ok(())
    }

    fn read_ledger(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.dir.join(LEDGER_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(file_io(&path, e)),
        }
    }

    fn create_ledger(&self, file: &[u8]) -> Result<(), StoreError> {
        self.refuse_if_read_only()?;
        let path = self.dir.join(LEDGER_FILE);
        let tmp = self.dir.join(format!("{LEDGER_FILE}.new"));
        // Written whole under another name, synced, then renamed: a crash leaves either no
        // ledger or a complete one, never a short one.
        let mut f = File::create(&tmp).map_err(|e| file_io(&tmp, e))?;
        std::io::Write::write_all(&mut f, file).map_err(|e| file_io(&tmp, e))?;
        f.sync_all().map_err(|e| file_io(&tmp, e))?;
        self.ledger_syncs.fetch_add(1, Ordering::Relaxed);
        if path.exists() {
            return Err(StoreError::io_kind(
                path.display(),
                std::io::ErrorKind::AlreadyExists,
                "the ledger exists already",
            ));
        }
        std::fs::rename(&tmp, &path).map_err(|e| file_io(&path, e))?;
        self.sync_dir(&self.dir)
    }

    fn write_ledger(&self, offset: usize, bytes: &[u8]) -> Result<(), StoreError> {
        self.refuse_if_read_only()?;
        let path = self.dir.join(LEDGER_FILE);
        let mut ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        if ledger.is_none() {
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| file_io(&path, e))?;
            *ledger = Some(f);
        }
        let f = ledger.as_ref().ok_or_else(|| {
            StoreError::io_kind(
                path.display(),
                std::io::ErrorKind::NotFound,
                "no ledger handle",
            )
        })?;
        f.write_all_at(bytes, offset as u64)
            .and_then(|()| f.sync_data())
            .map_err(|e| file_io(&path, e))?;
        self.ledger_syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn syncs(&self) -> SyncCounts {
        SyncCounts {
            data_syncs: self.data_syncs.load(Ordering::Relaxed),
            ledger_syncs: self.ledger_syncs.load(Ordering::Relaxed),
            dir_syncs: self.dir_syncs.load(Ordering::Relaxed),
            flushes_started: self.flushes_started.load(Ordering::SeqCst),
            newest_completed_flush: self.newest_completed_flush.load(Ordering::SeqCst),
        }
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    fn pre_open_copy(&self) -> Option<String> {
        self.pre_open_copy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|p| p.display().to_string())
    }

    fn discard_pre_open_copy(&self) {
        self.checked_whole.store(true, Ordering::SeqCst);
        let taken = self
            .pre_open_copy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(copy) = taken {
            // A leftover copy costs disk space, nothing else; it is not worth failing an open.
            let _ = std::fs::remove_dir_all(copy);
        } else if self.marks_clean_close {
            // A copy an earlier failed open kept, when this open needed none: the store is
            // whole, so a copy of the same state can go.
            store_copy::discard_if_current(&self.dir, LEDGER_FILE);
        }
    }

    fn get_snapshot(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(guarded(&self.dir, || self.snapshots.get(SNAPSHOT_KEY))?.map(|v| v.to_vec()))
    }

    fn put_snapshot(&self, record: Vec<u8>) -> Result<(), StoreError> {
        self.refuse_if_read_only()?;
        guarded(&self.dir, || self.snapshots.insert(SNAPSHOT_KEY, record)).map(|_| ())
    }

    fn checkpoint_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(guarded(&self.dir, || self.snapshots.get(checkpoint_key(key)))?.map(|v| v.to_vec()))
    }

    fn checkpoint_range<'a>(&'a self, start: &[u8], end: &[u8]) -> Entries<'a> {
        if start >= end {
            return Box::new(std::iter::empty());
        }
        let mut iter = self
            .snapshots
            .range(checkpoint_key(start)..checkpoint_key(end));
        Box::new(std::iter::from_fn(move || {
            match quiet_panic::catch(|| iter.next()) {
                Ok(item) => item.map(|r| {
                    entry(&self.dir, r).map(|(k, v)| (k[CHECKPOINT_PREFIX.len()..].to_vec(), v))
                }),
                Err(panic) => Some(Err(damaged(
                    &self.dir,
                    format!("sled failed on damaged data: {panic}"),
                ))),
            }
        }))
    }

    fn checkpoint_write(&self, puts: Vec<Entry>) -> Result<(), StoreError> {
        self.refuse_if_read_only()?;
        let mut batch = sled::Batch::default();
        for (k, v) in puts {
            batch.insert(checkpoint_key(&k), v);
        }
        guarded(&self.dir, || self.snapshots.apply_batch(batch))
    }

    fn size_bytes(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    fn read_only(&self) -> bool {
        self.read_only
    }
}
