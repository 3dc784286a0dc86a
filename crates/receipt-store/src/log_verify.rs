//! `verify`: reads every record and checks everything derivable against what it derives from.
//! Reads only; [`verify_store`] runs it on a copy of a sled store so not a byte of the store
//! changes (sled's own recovery writes to the files it opens).

use crate::backend::Backend;
use crate::checkpoint_verify::{CheckpointCheck, Folded};
use crate::error::StoreError;
use crate::ledger;
use crate::log::{Durability, EventLog};
use crate::sled_backend::SledBackend;
use crate::store_copy::Purpose;
use receipt_domain::{ConversationId, State};
use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};

/// What [`EventLog::verify`] checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Events read and decoded, gapless from position 0.
    pub events: u64,
    /// Chunk records read.
    pub chunks: u64,
    /// Conversation streams whose index was checked.
    pub streams: u64,
    /// Events the ledger records as acknowledged (all present, chain matching).
    pub acknowledged: u64,
    /// Position of the stored whole-state snapshot, if there is a usable one (it equals a
    /// replay there). Engines no longer write them; stores from before checkpoints have one.
    pub snapshot_position: Option<u64>,
    /// What was checked of the checkpoints.
    pub checkpoint: CheckpointCheck,
}

fn damaged(location: String, reason: String) -> StoreError {
    StoreError::Damaged {
        location,
        reason,
        kept: None,
    }
}

impl<B: Backend> EventLog<B> {
    /// Checks the whole history against the ledger: every chunk up to the acknowledged head
    /// decodes, positions are gapless, and the running chain over them is the one the ledger
    /// recorded when they were acknowledged. This is the part of [`EventLog::verify`] that
    /// finds damage at rest in old records, which [`EventLog::open`] cannot see (it checks the
    /// last acknowledged chunk and the tail, so that an open does not cost the history). Reads
    /// every chunk once, one at a time. Returns the chunks checked.
    pub fn check_history(&self) -> Result<u64, StoreError> {
        let mark = crate::log::lock(&self.ledger).written;
        let (chain, chunks) = self.chain_between(0, mark.head, 0)?;
        if chain != mark.chain {
            return Err(damaged(
                self.backend.location(),
                format!(
                    "the chunks before position {} are not the ones acknowledged (chain mismatch)",
                    mark.head
                ),
            ));
        }
        Ok(chunks)
    }

    /// Checks the whole store: every chunk decodes, positions are gapless, the running chain
    /// over the chunks equals the ledger's at the acknowledged head, every stream run and
    /// event-id entry says exactly where its events are, the snapshot (if any) equals a replay
    /// at its position, the projections keep their invariants, and every checkpoint entry
    /// equals what a fold of the log gives. Writes nothing.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        let location = self.backend.location();
        let ledger_bytes = self
            .backend
            .read_ledger()?
            .ok_or_else(|| damaged(location.clone(), "it has no ledger".into()))?;
        let mark = ledger::Mark::newest(&ledger_bytes)
            .map_err(|r| damaged(location.clone(), format!("its ledger is unreadable ({r})")))?;
        let head = self.head();
        if head < mark.head {
            return Err(StoreError::Lost {
                location,
                acknowledged: mark.head,
                found: head,
                kept: None,
            });
        }
        // Chunks: decode each, gapless; the chain up to the acknowledged head is the ledger's.
        let (chain, acknowledged_chunks) = self.chain_between(0, mark.head, 0)?;
        if chain != mark.chain {
            return Err(damaged(
                location,
                format!(
                    "the chunks before position {} are not the ones acknowledged (chain mismatch)",
                    mark.head
                ),
            ));
        }
        let (_, later_chunks) = self.chain_between(mark.head, head, chain)?;
        let chunks = acknowledged_chunks + later_chunks;
        // Replay: count streams, check the event-id index. The whole log is folded into one
        // state only to compare a whole-state snapshot (stores from before checkpoints); every
        // other check folds one stream at a time, below, so memory follows the largest
        // conversation, not the history.
        let snapshot = self.load_snapshot();
        let mut snapshot_matches = snapshot.as_ref().map(|_| false);
        let mut whole = snapshot.as_ref().map(|_| State::new());
        let mut per_stream: FxHashMap<ConversationId, u64> = FxHashMap::default();
        let mut index_error = None;
        self.replay(0, |e| {
            if let (Some((p, s)), Some(state)) = (&snapshot, &whole) {
                if *p == e.position {
                    snapshot_matches = Some(s == state);
                }
            }
            let version = per_stream.entry(e.event.body.conversation()).or_default();
            *version += 1;
            if index_error.is_none() {
                match self.event_location(e.event.id) {
                    Ok(Some(found)) if found == (e.position, *version) => {}
                    Ok(found) => {
                        index_error = Some(StoreError::corrupt(
                            e.position,
                            format!(
                                "the event index places event {} at {found:?}, not at (position, version) ({}, {version})",
                                e.event.id, e.position
                            ),
                        ))
                    }
                    Err(err) => index_error = Some(err),
                }
            }
            if let Some(state) = whole.as_mut() {
                state.apply(&e.event);
            }
        })?;
        if let Some(e) = index_error {
            return Err(e);
        }
        if let (Some((p, s)), Some(state)) = (&snapshot, &whole) {
            if *p == head {
                snapshot_matches = Some(s == state);
            }
            state
                .check_invariants()
                .map_err(|e| damaged(location.clone(), e.to_string()))?;
        }
        drop(whole);
        if snapshot_matches == Some(false) {
            let p = snapshot.as_ref().map_or(0, |s| s.0);
            return Err(damaged(
                location,
                format!("the snapshot at position {p} differs from a replay of the log"),
            ));
        }
        // Streams: each index lists exactly its stream's events, versions 1..=n; each stream's
        // fold keeps the domain's invariants and gives the answers the checkpoint must hold.
        let mut folded = Folded::default();
        for (conversation, &count) in &per_stream {
            let version = self.version(conversation)?;
            let listed = self.read_stream(conversation, 1, usize::MAX)?;
            if version != count
                || listed.len() as u64 != count
                || listed.iter().zip(1..).any(|(e, v)| e.version != v)
            {
                return Err(damaged(
                    location,
                    format!("the stream index of {conversation} disagrees with the log ({count} events, index says {version})"),
                ));
            }
            let mut partition = State::new();
            for e in &listed {
                partition.apply(&e.event);
            }
            drop(listed);
            partition
                .check_invariants()
                .map_err(|e| damaged(location.clone(), format!("{conversation}: {e}")))?;
            folded.add(conversation, &partition);
        }
        let checkpoint =
            self.verify_checkpoints(&folded)
                .map_err(|reason| StoreError::CheckpointMismatch {
                    location: location.clone(),
                    reason,
                })?;
        Ok(VerifyReport {
            events: head,
            chunks,
            streams: per_stream.len() as u64,
            acknowledged: mark.head,
            snapshot_position: snapshot.map(|s| s.0),
            checkpoint,
        })
    }
}

/// A scratch copy of a store directory, removed when dropped.
pub(crate) struct ScratchCopy {
    pub(crate) path: PathBuf,
}

impl ScratchCopy {
    /// Copies every file of `from` (recursively) into a new directory under the system's
    /// temporary directory, all or nothing (store_copy.rs).
    pub(crate) fn of(from: &Path) -> Result<Self, StoreError> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path =
            std::env::temp_dir().join(format!("receipts-scratch-{}-{stamp}", std::process::id()));
        crate::store_copy::copy_whole(from, &path, Purpose::Scratch)?;
        Ok(Self { path })
    }
}

impl Drop for ScratchCopy {
    fn drop(&mut self) {
        // Best effort: a leftover scratch copy in the temporary directory harms nothing.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Verifies the sled store at `dir` without changing a byte of it: the store is copied to a
/// scratch directory (as much space as the store takes, for the duration) and the copy is
/// opened and verified. A store in use by another process can be verified this way too.
pub fn verify_store(dir: &Path) -> Result<VerifyReport, StoreError> {
    if !dir.join(crate::sled_backend::LEDGER_FILE).exists() && !dir.join("conf").exists() {
        return Err(StoreError::io_kind(
            dir.display(),
            std::io::ErrorKind::NotFound,
            "no receipt store here",
        ));
    }
    let copy = ScratchCopy::of(dir)?;
    let report = {
        let log = SledBackend::open_scratch(&copy.path)
            .and_then(|backend| EventLog::open(backend, Durability::Buffered))
            .map_err(|e| relocate(e, &copy.path, dir))?;
        log.verify().map_err(|e| relocate(e, &copy.path, dir))?
    };
    Ok(report)
}

/// Errors found in the scratch copy name the original store.
fn relocate(e: StoreError, copy: &Path, original: &Path) -> StoreError {
    let fix = |s: String| s.replace(&copy.display().to_string(), &original.display().to_string());
    match e {
        StoreError::Lost {
            location,
            acknowledged,
            found,
            kept,
        } => StoreError::Lost {
            location: fix(location),
            acknowledged,
            found,
            kept,
        },
        StoreError::Damaged {
            location,
            reason,
            kept,
        } => StoreError::Damaged {
            location: fix(location),
            reason: fix(reason),
            kept,
        },
        StoreError::Io { context, error } => StoreError::Io {
            context: fix(context),
            error,
        },
        StoreError::LedgerMissing { location } => StoreError::LedgerMissing {
            location: fix(location),
        },
        StoreError::ForeignLedger {
            location,
            ledger_tag,
            store_tag,
            kept,
        } => StoreError::ForeignLedger {
            location: fix(location),
            ledger_tag,
            store_tag,
            kept,
        },
        other => other,
    }
}
