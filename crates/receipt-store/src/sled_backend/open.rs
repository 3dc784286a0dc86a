//! Opening a sled store: for writing (refused over a missing `db`, with the pre-open copy and
//! the clean-close marker), read-only (nothing of the engine's written), and the unchecked
//! opens of salvage and scratch copies.

use super::{damaged, file_io, guarded, is_lock_error, SledBackend, DB_FILE, LEDGER_FILE};
use crate::clean_close;
use crate::error::StoreError;
use crate::open_here;
use crate::store_copy::{self, PreOpenCopy};
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Mutex;

/// sled's page cache when the caller names none: what an engine with the default memory
/// budget gives sled (a quarter of 256 MiB). sled's own default, 1 GiB, made `verify`,
/// `rebuild` and `export` of a 1 M-event store peak near 800 MB.
pub const DEFAULT_CACHE_BYTES: u64 = 64 << 20;

impl SledBackend {
    /// Opens (or creates) the store at `path`. `flush_every_ms` is sled's background flush
    /// (`None` turns it off). A store whose ledger records acknowledged events but whose `db`
    /// file is missing or empty is refused before sled could create a fresh one over it.
    ///
    /// Before sled touches the files of a store that has a ledger, they are copied to a sibling
    /// directory; [`crate::EventLog::open`] deletes the copy once its checks pass and names it
    /// in the error when they fail.
    pub fn open(path: &Path, flush_every_ms: Option<u64>) -> Result<Self, StoreError> {
        Self::open_with(path, flush_every_ms, None, true)
    }

    /// [`SledBackend::open`] with sled's page cache limited to `cache_capacity_bytes` (sled's
    /// default is 1 GiB): how an engine keeps sled within its share of the memory budget.
    pub fn open_with_cache(
        path: &Path,
        flush_every_ms: Option<u64>,
        cache_capacity_bytes: u64,
    ) -> Result<Self, StoreError> {
        Self::open_with(path, flush_every_ms, Some(cache_capacity_bytes), true)
    }

    /// Opens a store that is itself a scratch copy (verify, salvage): no copy is made first.
    pub(crate) fn open_scratch(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, None, None, false)
    }

    fn open_with(
        path: &Path,
        flush_every_ms: Option<u64>,
        cache_capacity_bytes: Option<u64>,
        copy_first: bool,
    ) -> Result<Self, StoreError> {
        if path.exists() && !path.is_dir() {
            return Err(StoreError::io_kind(
                path.display(),
                std::io::ErrorKind::NotADirectory,
                "not a directory (a store is a directory)",
            ));
        }
        let db_path = path.join(DB_FILE);
        // Before anything is copied or opened: a store someone else holds is refused at once.
        let claim = open_here::claim(path, &db_path)?;
        if path.join(LEDGER_FILE).exists() {
            let db_len = std::fs::metadata(&db_path).map(|m| m.len()).unwrap_or(0);
            if db_len == 0 {
                return Err(damaged(
                    path,
                    "the ledger records acknowledged events but sled's `db` file is missing or empty",
                ));
            }
        }
        // sled's recovery overwrites what follows the first damaged record while it opens, before
        // the log can compare the store with its ledger. So the files of a store that has a
        // ledger are copied aside first; the copy is deleted once the log's checks pass, and
        // kept (and named in the error) when they fail.
        // Unless the last session closed it cleanly (then sled finds nothing to rewrite).
        let closed_cleanly = copy_first && clean_close::take(path)?;
        let pre_open_copy = if copy_first && !closed_cleanly && path.join(LEDGER_FILE).exists() {
            Some(store_copy::pre_open_copy(path, LEDGER_FILE)?)
        } else {
            None
        };
        // A copy made by this open goes when sled fails without touching the files; one an
        // earlier open kept stays until an open passes the log's checks.
        let discard = |copy: &Option<PreOpenCopy>| {
            if let Some(c) = copy.as_ref().filter(|c| !c.reused) {
                let _ = std::fs::remove_dir_all(&c.path);
            }
        };
        let opened = match Self::open_sled(path, flush_every_ms, cache_capacity_bytes) {
            Err(e) if is_lock_error(&e) => {
                // Taken between the probe and sled's open: by someone else.
                discard(&pre_open_copy);
                return Err(StoreError::Locked(format!(
                    "{} (open in another process)",
                    path.display()
                )));
            }
            Err(e @ StoreError::Damaged { .. }) => {
                return Err(e.with_kept_copy(pre_open_copy.map(|c| c.path.display().to_string())))
            }
            Err(e) => {
                discard(&pre_open_copy);
                return Err(e);
            }
            Ok(opened) => opened,
        };
        let pre_open_copy = pre_open_copy.map(|c| c.path);
        let mut backend = Self::from_opened(path, opened, pre_open_copy, Some(claim))?;
        backend.marks_clean_close = copy_first;
        // sled may just have created `db`, `conf` and `blobs/`: make those entries durable.
        backend.sync_dir(path)?;
        Ok(backend)
    }

    /// Opens an existing store to answer queries only: nothing of the engine's is written or
    /// synced (no clean-close marker taken or written, no pre-open copy, no directory sync,
    /// no flush; sled's background flusher is off) and every write is refused with
    /// [`StoreError::ReadOnly`]. Only a store its last session closed cleanly opens this way:
    /// after a crash, sled may rewrite a damaged tail while it opens, which needs the copy a
    /// writing open makes first, so that is [`StoreError::NeedsRecovery`].
    ///
    /// sled 0.34 itself has no read-only mode: opening its files zeroes its free segments and
    /// the unused end of its active segment, and its close calls `fsync` on `db` once
    /// (docs/storage.md, "Read-only opens", has the measured bytes).
    pub fn open_read_only(
        path: &Path,
        cache_capacity_bytes: Option<u64>,
    ) -> Result<Self, StoreError> {
        let needs = |reason: &str| StoreError::NeedsRecovery {
            location: path.display().to_string(),
            reason: reason.to_string(),
        };
        let db_path = path.join(DB_FILE);
        let db_len = std::fs::metadata(&db_path).map(|m| m.len()).unwrap_or(0);
        if !path.is_dir() || db_len == 0 {
            return Err(StoreError::io_kind(
                path.display(),
                std::io::ErrorKind::NotFound,
                "no store here (a read-only open never creates one)",
            ));
        }
        let claim = open_here::claim(path, &db_path)?;
        if !path.join(clean_close::CLEAN_CLOSE_FILE).exists() {
            return Err(needs(
                "its last session did not close it cleanly, and sled rewrites a damaged tail while it opens such a store",
            ));
        }
        let trees = match Self::open_sled_trees_if_there(path, cache_capacity_bytes) {
            // Taken between the probe and sled's open: by a writer.
            Err(e) if is_lock_error(&e) => {
                return Err(StoreError::Locked(format!(
                    "{} (open in another process)",
                    path.display()
                )))
            }
            other => other?,
        };
        let Some(opened) = trees else {
            return Err(needs("it has never been opened for writing"));
        };
        let mut backend = Self::from_opened(path, opened, None, Some(claim))?;
        backend.read_only = true;
        Ok(backend)
    }

    /// Opens sled (no background flusher) and its two trees if both exist, creating nothing.
    fn open_sled_trees_if_there(
        path: &Path,
        cache_capacity_bytes: Option<u64>,
    ) -> Result<Option<(sled::Db, sled::Tree, sled::Tree)>, StoreError> {
        let config = sled::Config::new()
            .path(path)
            .flush_every_ms(None)
            .cache_capacity(cache_capacity_bytes.unwrap_or(DEFAULT_CACHE_BYTES));
        guarded(path, || {
            let db = config.open()?;
            let names = db.tree_names();
            let there = |name: &[u8]| names.iter().any(|n| n.as_ref() == name);
            if !there(b"receipts") || !there(b"snapshots") {
                return Ok(None);
            }
            let tree = db.open_tree("receipts")?;
            let snapshots = db.open_tree("snapshots")?;
            Ok(Some((db, tree, snapshots)))
        })
    }

    /// Opens a store with none of the safety checks of [`SledBackend::open`]: for salvage,
    /// which works on a scratch copy and only reads.
    pub(crate) fn open_unchecked(path: &Path) -> Result<Self, StoreError> {
        let opened = Self::open_sled(path, None, None)?;
        Self::from_opened(path, opened, None, None)
    }

    fn from_opened(
        path: &Path,
        (db, tree, snapshots): (sled::Db, sled::Tree, sled::Tree),
        pre_open_copy: Option<PathBuf>,
        mut claim: Option<open_here::Claim>,
    ) -> Result<Self, StoreError> {
        let db_path = path.join(DB_FILE);
        let db_file = File::open(&db_path).map_err(|e| file_io(&db_path, e))?;
        if let Some(c) = claim.as_mut() {
            c.opened = true;
        }
        Ok(Self {
            _claim: claim,
            db,
            tree,
            snapshots,
            dir: path.to_path_buf(),
            db_file,
            synced_blobs: Mutex::new(HashMap::new()),
            ledger: Mutex::new(None),
            pre_open_copy: Mutex::new(pre_open_copy),
            checked_whole: AtomicBool::new(false),
            marks_clean_close: false,
            read_only: false,
            data_syncs: AtomicU64::new(0),
            ledger_syncs: AtomicU64::new(0),
            dir_syncs: AtomicU64::new(0),
            flushes_started: AtomicU64::new(0),
            newest_completed_flush: AtomicU64::new(0),
        })
    }

    fn open_sled(
        path: &Path,
        flush_every_ms: Option<u64>,
        cache_capacity_bytes: Option<u64>,
    ) -> Result<(sled::Db, sled::Tree, sled::Tree), StoreError> {
        let config = sled::Config::new()
            .path(path)
            .flush_every_ms(flush_every_ms)
            .cache_capacity(cache_capacity_bytes.unwrap_or(DEFAULT_CACHE_BYTES));
        guarded(path, || {
            let db = config.open()?;
            let tree = db.open_tree("receipts")?;
            let snapshots = db.open_tree("snapshots")?;
            Ok((db, tree, snapshots))
        })
        .map_err(|e| match e {
            StoreError::Io { context, error } if context == "sled" => StoreError::Io {
                context: format!("{} (sled)", path.display()),
                error,
            },
            other => other,
        })
    }
}
