//! A full rebuild of every checkpoint from the log, with the fold spread over threads by
//! conversation: the partitions share nothing, so each thread folds its own in log order while
//! one thread reads and decodes the log.

use crate::error::EngineError;
use receipt_domain::{ConversationId, Event, State};
use receipt_store::{Backend, CheckpointWrite, EventLog, StoreError};
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::hash::BuildHasher;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

/// Events read from the log per step (and handed to the fold threads per message).
const STEP_EVENTS: usize = 8_192;
/// Partitions written per checkpoint batch, so no single write holds the whole state.
const PARTITIONS_PER_WRITE: usize = 4_096;

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RebuildReport {
    /// Events folded (the whole log).
    pub events: u64,
    /// Conversations (partitions) rebuilt.
    pub conversations: u64,
    /// Threads that folded.
    pub fold_threads: usize,
    /// Reading, decoding and folding the log.
    pub fold: Duration,
    /// Writing every partition, header and summary, then the marker.
    pub write: Duration,
}

/// Folds the whole log into fresh partitions on `fold_threads` threads (at least 1) and writes
/// every partition, header and summary, then the checkpoint marker at the log's head. No
/// existing checkpoint entry is read: this is what an engine does when its marker cannot be
/// trusted, and what `receipts rebuild` runs. Memory: every partition is held until written.
pub fn rebuild_checkpoints<B: Backend>(
    log: &EventLog<B>,
    fold_threads: usize,
) -> Result<RebuildReport, EngineError> {
    rebuild_reporting(log, fold_threads, &|_| {})
}

/// [`rebuild_checkpoints`], calling `progress` with the events read so far after each step.
pub(crate) fn rebuild_reporting<B: Backend>(
    log: &EventLog<B>,
    fold_threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<RebuildReport, EngineError> {
    let started = Instant::now();
    let head = log.head();
    let n = fold_threads.max(1);
    let parts: Vec<FxHashMap<ConversationId, State>> = std::thread::scope(|scope| {
        let mut senders = Vec::with_capacity(n);
        let mut workers = Vec::with_capacity(n);
        for _ in 0..n {
            // Two steps in flight per thread: the reader runs ahead, memory stays bounded.
            let (tx, rx) = sync_channel::<Vec<Event>>(2);
            senders.push(tx);
            workers.push(scope.spawn(move || {
                let mut parts: FxHashMap<ConversationId, State> = FxHashMap::default();
                for step in rx {
                    for e in &step {
                        parts.entry(e.body.conversation()).or_default().apply(e);
                    }
                }
                parts
            }));
        }
        let hasher = FxBuildHasher;
        let mut at = 0;
        let read = (|| {
            while at < head {
                let step = log.read_from(at, STEP_EVENTS)?;
                let Some(last) = step.last() else { break };
                at = last.position + 1;
                let mut split: Vec<Vec<Event>> = vec![Vec::new(); n];
                for e in step {
                    let i = (hasher.hash_one(e.event.body.conversation()) % n as u64) as usize;
                    split[i].push(e.event);
                }
                for (tx, events) in senders.iter().zip(split) {
                    // A fold thread only stops by panicking, which the join below reports.
                    let _ = tx.send(events);
                }
                progress(at);
            }
            Ok::<(), EngineError>(())
        })();
        drop(senders);
        let mut parts = Vec::with_capacity(n);
        for w in workers {
            // The fold never panics; if a thread did anyway, nothing may be written from a
            // rebuild missing its partitions.
            parts.push(w.join().map_err(|_| {
                StoreError::io("rebuild", std::io::Error::other("a fold thread panicked"))
            })?);
        }
        read.map(|()| parts)
    })?;
    let fold = started.elapsed();
    let write_started = Instant::now();
    let mut conversations = 0u64;
    // Entries of the checkpoint before this rebuild are never believed again.
    let mut batch = CheckpointWrite {
        new_generation: true,
        ..CheckpointWrite::default()
    };
    let mut held = receipt_domain::HeldEarlyAcks::default();
    for (c, state) in parts.into_iter().flatten() {
        conversations += 1;
        held.set(&c, state.early_acks_held_in(&c));
        if let Some(h) = state.header(&c) {
            batch.headers.push((c.clone(), h, state.events_applied()));
        }
        for (u, s) in state.reader_summaries(&c) {
            batch.summaries.push((u, c.clone(), s));
        }
        batch.partitions.push((c, std::sync::Arc::new(state)));
        if batch.partitions.len() >= PARTITIONS_PER_WRITE {
            log.write_checkpoint(&std::mem::take(&mut batch))?;
        }
    }
    // The marker last: until it is written, an interrupted rebuild is simply done again.
    batch.marker = Some(head);
    batch.held_early_acks = held;
    log.write_checkpoint(&batch)?;
    Ok(RebuildReport {
        events: head,
        conversations,
        fold_threads: n,
        fold,
        write: write_started.elapsed(),
    })
}
