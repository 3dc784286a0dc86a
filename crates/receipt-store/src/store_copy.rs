//! Whole copies of a store directory: the pre-open copy (sled rewrites a damaged tail while it
//! opens, before the log can compare the store with its ledger, so a store not closed cleanly
//! is copied first) and the scratch copies that `verify` and `salvage` work on.
//!
//! A copy is all or nothing. It is written under a `.partial` name and renamed only once every
//! file is in it; a copy that fails (a full disk, most often) is removed and reported with the
//! path it was going to and the bytes it needs, so a retry after freeing that much succeeds and
//! no retry ever eats the freed space again.
//!
//! There is at most one pre-open copy per store, `<store>.before-open`. An open that finds one
//! reuses it when it still shows this store's state (its ledger is byte for byte the store's:
//! nothing was acknowledged since it was made), because it is then the state before the
//! *earliest* failed open, the most faithful there is. A copy that shows another state is
//! never replaced or deleted (it may be the only copy of that state): the open is refused and
//! the error names it.

use crate::error::StoreError;
use std::fs::File;
use std::path::{Path, PathBuf};

/// The suffix of a store's pre-open copy, beside the store: `<store>.before-open`.
pub const PRE_OPEN_COPY_SUFFIX: &str = ".before-open";
const PARTIAL_SUFFIX: &str = ".partial";

/// What a copy is for, in its error message.
#[derive(Clone, Copy)]
pub(crate) enum Purpose {
    /// The copy made before opening a store that was not closed cleanly.
    PreOpen,
    /// The scratch copy `verify` or `salvage` opens instead of the store.
    Scratch,
}

impl Purpose {
    fn describe(self) -> &'static str {
        match self {
            Purpose::PreOpen => "a pre-open copy, made before opening a store that was not closed cleanly and removed once the open's checks pass; free that much space beside the store and open it again",
            Purpose::Scratch => "the scratch copy that verify and salvage open instead of the store, in the temporary directory (TMPDIR), removed when they finish; free that much space there, or point TMPDIR at a filesystem that has it",
        }
    }
}

/// The path of the pre-open copy of the store at `dir`.
pub fn pre_open_copy_path(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map_or_else(|| "store".into(), |n| n.to_string_lossy().into_owned());
    dir.with_file_name(format!("{name}{PRE_OPEN_COPY_SUFFIX}"))
}

/// A pre-open copy ready for an open: made now, or an earlier one reused.
pub(crate) struct PreOpenCopy {
    pub(crate) path: PathBuf,
    /// Made by an earlier open that failed: kept whatever this open's outcome, until one passes.
    pub(crate) reused: bool,
}

/// Makes the pre-open copy of the store at `dir`, or reuses the one an earlier open left.
pub(crate) fn pre_open_copy(dir: &Path, ledger_file: &str) -> Result<PreOpenCopy, StoreError> {
    let path = pre_open_copy_path(dir);
    remove_partial(&path)?;
    if path.exists() {
        if same_file(&dir.join(ledger_file), &path.join(ledger_file))? {
            return Ok(PreOpenCopy { path, reused: true });
        }
        return Err(StoreError::CopyInTheWay {
            location: dir.display().to_string(),
            copy: path.display().to_string(),
        });
    }
    copy_whole(dir, &path, Purpose::PreOpen)?;
    Ok(PreOpenCopy {
        path,
        reused: false,
    })
}

/// Removes the pre-open copy of `dir` if it still shows the store's state (same ledger): once
/// an open's checks pass, the store itself is the better copy.
pub(crate) fn discard_if_current(dir: &Path, ledger_file: &str) {
    let path = pre_open_copy_path(dir);
    if matches!(
        same_file(&dir.join(ledger_file), &path.join(ledger_file)),
        Ok(true)
    ) {
        // A leftover copy costs disk space, nothing else; it is not worth failing an open.
        let _ = std::fs::remove_dir_all(&path);
    }
}

/// Copies every file of `from` into `to` (which must not exist), all or nothing.
pub(crate) fn copy_whole(from: &Path, to: &Path, purpose: Purpose) -> Result<(), StoreError> {
    let partial = partial_path(to);
    remove_partial(to)?;
    let needed_bytes = dir_bytes(from)?;
    // Only a pre-open copy must survive a power loss; a scratch copy lives for one command.
    let durable = matches!(purpose, Purpose::PreOpen);
    let made = copy_dir(from, &partial)
        .and_then(|()| if durable { sync_tree(&partial) } else { Ok(()) })
        .and_then(|()| std::fs::rename(&partial, to))
        .and_then(|()| if durable { sync_parent(to) } else { Ok(()) });
    made.map_err(|error| {
        let _ = std::fs::remove_dir_all(&partial);
        StoreError::CopyFailed {
            location: from.display().to_string(),
            copy: to.display().to_string(),
            purpose: purpose.describe(),
            needed_bytes,
            error,
        }
    })
}

fn partial_path(to: &Path) -> PathBuf {
    let mut name = to.as_os_str().to_owned();
    name.push(PARTIAL_SUFFIX);
    PathBuf::from(name)
}

/// A copy interrupted by a crash is never trusted: it is removed before a new one is made.
fn remove_partial(to: &Path) -> Result<(), StoreError> {
    let partial = partial_path(to);
    match std::fs::remove_dir_all(&partial) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(partial.display(), e)),
    }
}

/// Whether two files hold the same bytes (a missing second file is `false`).
fn same_file(a: &Path, b: &Path) -> Result<bool, StoreError> {
    let first = std::fs::read(a).map_err(|e| StoreError::io(a.display(), e))?;
    match std::fs::read(b) {
        Ok(second) => Ok(first == second),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StoreError::io(b.display(), e)),
    }
}

/// The bytes the files under `dir` hold: what a copy of it needs.
pub(crate) fn dir_bytes(dir: &Path) -> Result<u64, StoreError> {
    let mut total = 0u64;
    for entry in std::fs::read_dir(dir).map_err(|e| StoreError::io(dir.display(), e))? {
        let entry = entry.map_err(|e| StoreError::io(dir.display(), e))?;
        let meta = entry
            .metadata()
            .map_err(|e| StoreError::io(entry.path().display(), e))?;
        total = total.saturating_add(if meta.is_dir() {
            dir_bytes(&entry.path())?
        } else {
            meta.len()
        });
    }
    Ok(total)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Makes every file and directory entry of a finished copy durable before it is renamed into
/// place, so a name without `.partial` always means a whole copy, even after a power loss.
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            sync_tree(&entry.path())?;
        } else {
            File::open(entry.path())?.sync_data()?;
        }
    }
    File::open(dir)?.sync_all()
}

fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => File::open(parent)?.sync_all(),
        _ => Ok(()),
    }
}
