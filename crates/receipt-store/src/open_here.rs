//! Who holds a store. sled locks its `db` file (`flock`) for as long as a handle is open, and its
//! background threads can keep that lock a moment after the last handle is dropped. So closing
//! waits (at most [`LOCK_WAIT`]) until the lock is free, and a store closed by one process opens
//! in another at once; opening also waits for the lock of a store this process closed less than
//! [`LOCK_WAIT`] ago. A store open elsewhere in this process, or in another process, is reported
//! [`StoreError::Locked`] at once.

use crate::error::StoreError;
use std::collections::HashMap;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// How long opening waits for the lock of a store this process has just closed.
pub(crate) const LOCK_WAIT: Duration = Duration::from_secs(5);

enum Held {
    Open,
    ClosedAt(Instant),
}

fn registry() -> std::sync::MutexGuard<'static, HashMap<PathBuf, Held>> {
    static REGISTRY: OnceLock<Mutex<HashMap<PathBuf, Held>>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// The key of a store directory: its absolute path resolved through links, the same before
/// and after the directory exists (a store not created yet is keyed by its resolved parent).
fn key(dir: &Path) -> PathBuf {
    if let Ok(resolved) = dir.canonicalize() {
        return resolved;
    }
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => parent
            .canonicalize()
            .map(|p| p.join(name))
            .unwrap_or(absolute.clone()),
        _ => absolute,
    }
}

fn locked(dir: &Path, by: &str) -> StoreError {
    StoreError::Locked(format!("{} ({by})", dir.display()))
}

/// A store this process has claimed; released (as just closed) when dropped.
#[derive(Debug)]
pub(crate) struct Claim {
    key: PathBuf,
    /// sled's data file, whose lock a close waits for.
    db_file: PathBuf,
    /// Opened successfully: dropping marks the store as closed a moment ago (sled may still
    /// hold its lock). A failed open just forgets the claim.
    pub(crate) opened: bool,
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.opened {
            wait_for_release(&self.db_file);
        }
        let mut registry = registry();
        if self.opened {
            registry.insert(self.key.clone(), Held::ClosedAt(Instant::now()));
        } else {
            registry.remove(&self.key);
        }
    }
}

/// Waits, at most [`LOCK_WAIT`], until nothing holds the lock of `db_file`: sled's handles are
/// dropped, but its background threads may still hold the file a moment.
fn wait_for_release(db_file: &Path) {
    let Ok(file) = File::open(db_file) else {
        return;
    };
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                return;
            }
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            // Still held after the wait, or the file cannot be probed: the next open reports it.
            Err(_) => return,
        }
    }
}

/// Claims `dir` for an open in this process, then waits for sled's lock on it only if this
/// process closed the store less than [`LOCK_WAIT`] ago. Any other holder: `Locked` at once.
pub(crate) fn claim(dir: &Path, db_file: &Path) -> Result<Claim, StoreError> {
    let key = key(dir);
    let closed_at = {
        let mut registry = registry();
        // Stores closed longer ago than the wait need no entry: the registry stays as small as
        // the set of stores open or just closed, however many a process opens over its life.
        registry.retain(|_, held| !matches!(held, Held::ClosedAt(t) if t.elapsed() >= LOCK_WAIT));
        let closed_at = match registry.get(&key) {
            Some(Held::Open) => return Err(locked(dir, "already open in this process")),
            Some(Held::ClosedAt(t)) => Some(*t),
            None => None,
        };
        registry.insert(key.clone(), Held::Open);
        closed_at
    };
    let claim = Claim {
        key,
        db_file: db_file.to_path_buf(),
        opened: false,
    };
    let Ok(file) = File::open(db_file) else {
        // No data file yet: nobody holds it (sled's own lock settles a race from here on).
        return Ok(claim);
    };
    loop {
        match file.try_lock() {
            Ok(()) => {
                // Only a probe: sled takes its own lock on its own handle.
                let _ = file.unlock();
                return Ok(claim);
            }
            Err(TryLockError::WouldBlock) if closed_at.is_some_and(|t| t.elapsed() < LOCK_WAIT) => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(locked(dir, "open in another process"));
            }
            Err(TryLockError::Error(e)) => {
                return Err(StoreError::io(db_file.display(), e));
            }
        }
    }
}
