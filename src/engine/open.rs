//! Opening: the checkpoint marker says up to where the summaries and headers are exact; the
//! log's tail after it is folded into the partitions it touches (each loaded from its own
//! checkpoint up to the event before), which refreshes those summaries and headers.

use super::PROGRESS_EVERY_EVENTS;
use crate::error::EngineError;
use crate::options::{EngineOptions, Progress};
use crate::projections::Projections;
use receipt_domain::ConversationId;
use receipt_store::{Backend, EventLog, StoreError};
use rustc_hash::FxHashMap;

/// Events read from the log per step of the tail.
const TAIL_STEP_EVENTS: usize = 4_096;

/// Recovers the projections; returns the marker the checkpoint started from.
pub(super) fn recover<B: Backend>(
    log: &EventLog<B>,
    projections: &mut Projections,
    options: &EngineOptions,
) -> Result<u64, EngineError> {
    let head = log.head();
    let report = |done: u64| {
        if let Some(f) = &options.on_progress {
            f(Progress { done, total: head });
        }
    };
    let marker = match log.checkpoint_mark()? {
        Ok(marker) => marker,
        Err(unusable) => {
            tracing::warn!(reason = %unusable.0, "checkpoint marker unusable; rebuilding every checkpoint from the log");
            projections.stats.unusable_entries += 1;
            None
        }
    };
    let from = match marker {
        Some(marker) => {
            projections.held = marker.held_early_acks;
            marker.position
        }
        // No checkpoint to start from (a new store, one written before checkpoints existed,
        // or one whose marker failed its checks): fold the whole log on every core and
        // checkpoint it, trusting no stored entry.
        None if head > 0 => {
            if log.is_read_only() {
                return Err(StoreError::NeedsRecovery {
                    location: log.backend().location(),
                    reason: "its checkpoints must be rebuilt from the log first (`receipts rebuild`, or the next writing open)".into(),
                }
                .into());
            }
            report(0);
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let rebuilt = crate::rebuild::rebuild_reporting(log, threads, &report)?;
            tracing::info!(?rebuilt, "every checkpoint rebuilt from the log");
            // The rebuild's marker counts the held acks of the whole log.
            match log.checkpoint_mark()? {
                Ok(Some(marker)) if marker.position == head => {
                    projections.held = marker.held_early_acks;
                }
                _ => {
                    return Err(StoreError::corrupt(
                        head,
                        "the checkpoint marker just rebuilt cannot be read back",
                    )
                    .into())
                }
            }
            head
        }
        None => 0,
    };
    tracing::info!(checkpoint = from, head, "recovering receipt projections");
    report(from);
    // Each touched stream's version as the tail is read: looked up once (the event index
    // holds every event's version), then counted.
    let mut versions: FxHashMap<ConversationId, u64> = FxHashMap::default();
    let mut at = from;
    while at < head {
        let step = log.read_from(at, TAIL_STEP_EVENTS)?;
        if step.is_empty() {
            break;
        }
        for e in step {
            let conversation = e.event.body.conversation();
            let version = match versions.get_mut(&conversation) {
                Some(v) => {
                    *v += 1;
                    *v
                }
                None => {
                    let (_, v) = log.event_location(e.event.id)?.ok_or_else(|| {
                        StoreError::corrupt(e.position, "event missing from the event index")
                    })?;
                    versions.insert(conversation.clone(), v);
                    v
                }
            };
            projections.apply(log, &conversation, version, &e.event)?;
            at = e.position + 1;
            if at % PROGRESS_EVERY_EVENTS == 0 {
                report(at);
            }
        }
        projections.evict_over_budget(log, None)?;
        // A long tail (a first open of an old store, or one whose marker was unusable) is
        // checkpointed as it goes, so its summaries do not all wait in memory.
        // (Not read-only: what changed then stays in memory until the engine closes.)
        if !log.is_read_only()
            && projections.dirty_entries()
                > options.memory_budget_bytes / 4 / super::DIRTY_ENTRY_BYTES
        {
            let write = projections.take_checkpoint(at);
            log.write_checkpoint(&write)?;
            projections.checkpoint_finished();
        }
    }
    report(at);
    tracing::info!(events = at, "receipt projections ready");
    Ok(from)
}
