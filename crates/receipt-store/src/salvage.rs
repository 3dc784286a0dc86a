//! `salvage`: copies every readable event of a damaged store into a new store and says exactly
//! what could not be copied. The damaged store is never written: salvage works on a scratch
//! copy of it (sled's recovery writes to whatever it opens).

use crate::backend::Backend;
use crate::error::StoreError;
use crate::keys;
use crate::ledger::Mark;
use crate::log::{AppendRequest, Durability};
use crate::log_verify::ScratchCopy;
use crate::record;
use crate::sled_backend::{SledBackend, LEDGER_FILE};
use crate::SledLog;
use receipt_domain::{ConversationId, Event};
use std::collections::HashMap;
use std::path::Path;

/// Positions of the damaged store that were not copied, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedRange {
    /// First position not copied.
    pub from: u64,
    /// End of the range (exclusive); `None` when nothing after `from` could be read.
    pub to: Option<u64>,
    /// What was wrong there.
    pub reason: String,
}

/// What [`salvage`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalvageReport {
    /// Events copied into the new store (renumbered from 0, in their original order).
    pub kept_events: u64,
    /// No-op command records copied (so retries of those commands stay no-ops).
    pub kept_noop_records: u64,
    /// What was not copied, in position order.
    pub dropped: Vec<DroppedRange>,
    /// Events the damaged store's ledger records as acknowledged, if the ledger is readable.
    pub acknowledged: Option<u64>,
}

fn io(p: &Path, e: std::io::Error) -> StoreError {
    StoreError::io(p.display(), e)
}

/// Copies every readable event of the sled store at `damaged` into a new store at `into`
/// (which must not exist or be empty), chunk by chunk so each original atomic append stays
/// atomic, and reports what was dropped. Event ids are kept, so retries of the copied
/// commands are still recognised; positions after a dropped range move down.
pub fn salvage(damaged: &Path, into: &Path) -> Result<SalvageReport, StoreError> {
    if into.exists()
        && std::fs::read_dir(into)
            .map_err(|e| io(into, e))?
            .next()
            .is_some()
    {
        return Err(StoreError::io_kind(
            into.display(),
            std::io::ErrorKind::AlreadyExists,
            "salvage writes a new store; this directory is not empty",
        ));
    }
    let copy = ScratchCopy::of(damaged)?;
    let acknowledged = std::fs::read(copy.path.join(LEDGER_FILE))
        .ok()
        .and_then(|b| Mark::newest(&b).ok())
        .map(|m| m.head);
    let source = SledBackend::open_unchecked(&copy.path).map_err(|e| {
        let e = e.to_string().replace(
            &copy.path.display().to_string(),
            &damaged.display().to_string(),
        );
        StoreError::Unsalvageable {
            location: damaged.display().to_string(),
            reason: format!(
                "sled cannot open its files at all ({e}), so no event can be read from them; restore the store from a backup"
            ),
        }
    })?;
    let target = SledLog::open_dir(into, Durability::Buffered)?;
    let mut report = SalvageReport {
        kept_events: 0,
        kept_noop_records: 0,
        dropped: Vec::new(),
        acknowledged,
    };
    let items = read_in_background(source);
    let mut versions: HashMap<ConversationId, u64> = HashMap::new();
    let mut next = 0u64;
    let mut pending_damage: Option<(u64, String)> = None;
    let mut readable_to_the_end = true;
    let mut noops = Vec::new();
    loop {
        let (k, v) = match items.recv_timeout(STALL) {
            Ok(Item::Chunk(k, v)) => (k, v),
            Ok(Item::NoOp(k, v)) => {
                noops.push((k, v));
                continue;
            }
            Ok(Item::Done) => break,
            Ok(Item::Failed(reason)) => {
                report.dropped.push(DroppedRange {
                    from: pending_damage.take().map_or(next, |d| d.0),
                    to: None,
                    reason: format!("the keyspace could not be read past here: {reason}"),
                });
                readable_to_the_end = false;
                break;
            }
            Err(_) => {
                report.dropped.push(DroppedRange {
                    from: pending_damage.take().map_or(next, |d| d.0),
                    to: None,
                    reason: format!(
                        "sled made no progress reading past here for {} s (it can loop on damaged pages); gave up",
                        STALL.as_secs()
                    ),
                });
                readable_to_the_end = false;
                break;
            }
        };
        let Some(position) = keys::chunk_position(&k) else {
            continue;
        };
        if let Some((from, reason)) = pending_damage.take() {
            report.dropped.push(DroppedRange {
                from,
                to: Some(position),
                reason,
            });
        } else if position > next {
            report.dropped.push(DroppedRange {
                from: next,
                to: Some(position),
                reason: "no chunk holds these positions".into(),
            });
        }
        match record::decode_chunk(&v, position) {
            Ok(events) => {
                next = position + events.len() as u64;
                report.kept_events += copy_chunk(&target, &events, &mut versions)?;
            }
            Err(e) => {
                // Its length is unknown: the next readable chunk says where it ended.
                pending_damage = Some((position, e.to_string()));
                next = position;
            }
        }
    }
    if let Some((from, reason)) = pending_damage {
        report.dropped.push(DroppedRange {
            from,
            to: None,
            reason,
        });
    } else if let Some(acked) = acknowledged.filter(|&a| readable_to_the_end && a > next) {
        report.dropped.push(DroppedRange {
            from: next,
            to: Some(acked),
            reason: "acknowledged, but not in the store".into(),
        });
    }
    report.kept_noop_records = noops.len() as u64;
    target.backend().write_each(noops)?;
    target.flush()?;
    Ok(report)
}

/// How long salvage waits for sled to return the next record before giving up on the rest.
const STALL: std::time::Duration = std::time::Duration::from_secs(10);

enum Item {
    Chunk(Vec<u8>, Vec<u8>),
    NoOp(Vec<u8>, Vec<u8>),
    Failed(String),
    Done,
}

/// Reads the chunks, then the no-op records, on a thread of its own, so that a read sled never
/// returns from (it can loop forever on some damaged pages) stalls that thread, not salvage.
/// Such a thread is left behind; the CLI process ends right after salvage.
fn read_in_background(source: SledBackend) -> std::sync::mpsc::Receiver<Item> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for item in source.range(&keys::chunk(0), &keys::chunk(u64::MAX)) {
            let sent = match item {
                Ok((k, v)) => tx.send(Item::Chunk(k, v)),
                Err(e) => {
                    let _ = tx.send(Item::Failed(e.to_string()));
                    return;
                }
            };
            if sent.is_err() {
                return;
            }
        }
        for (k, v) in source.range(b"n", b"o").flatten() {
            if tx.send(Item::NoOp(k, v)).is_err() {
                return;
            }
        }
        let _ = tx.send(Item::Done);
    });
    rx
}

/// Appends one original chunk's events to `target` as one atomic batch: one request per run
/// of consecutive events of one stream, each expecting the version its stream has reached.
fn copy_chunk(
    target: &SledLog,
    events: &[Event],
    versions: &mut HashMap<ConversationId, u64>,
) -> Result<u64, StoreError> {
    let mut requests: Vec<AppendRequest> = Vec::new();
    for e in events {
        let conversation = e.body.conversation();
        let version = versions.entry(conversation.clone()).or_default();
        match requests.last_mut() {
            Some(r) if r.conversation == conversation => r.events.push(e.clone()),
            _ => requests.push(AppendRequest {
                conversation,
                expected_version: *version,
                events: vec![e.clone()],
            }),
        }
        *version += 1;
    }
    target.append_batch(&requests)?;
    Ok(events.len() as u64)
}
