//! The clean-close marker: an empty file a store's directory holds between a clean close and
//! the next open. Opening a store that has it needs no pre-open copy of the files: sled rewrites
//! a damaged tail only after a crash left one, and a clean close (every write flushed and
//! synced) leaves none. The copy is what made every open cost the size of the whole store.
//!
//! The marker is removed, durably, before sled opens the files, so a crash during the session
//! can never be mistaken for a clean close; it is written only after a session whose store
//! passed the log's checks at open, once everything is flushed and synced.

use crate::error::StoreError;
use std::fs::File;
use std::path::Path;

/// The marker's file name inside the store directory.
pub const CLEAN_CLOSE_FILE: &str = "receipts.clean-close";

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir.display(), e))
}

/// Whether the store was closed cleanly; the marker is gone (durably) when this returns.
pub(crate) fn take(dir: &Path) -> Result<bool, StoreError> {
    let marker = dir.join(CLEAN_CLOSE_FILE);
    match std::fs::remove_file(&marker) {
        Ok(()) => {
            sync_dir(dir)?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StoreError::io(marker.display(), e)),
    }
}

/// Records a clean close, durably. Called only after a final flush succeeded.
pub(crate) fn mark(dir: &Path) -> Result<(), StoreError> {
    let marker = dir.join(CLEAN_CLOSE_FILE);
    File::create(&marker)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io(marker.display(), e))?;
    sync_dir(dir)
}
