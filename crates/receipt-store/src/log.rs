//! The event log: atomic, ordered, idempotent appends per conversation stream, over any backend.
//!
//! One writer (a mutex) checks event ids and expected versions and assigns positions, then
//! inserts the chunk (the commit point: one key, atomic), then the chunk's index entries (stream
//! runs, event ids) and now and then the index watermark (derivable from the chunk, rewritten on
//! open if a crash lost them). A commit makes the backend durable and then records the covered
//! head in the acknowledgement ledger (ledger.rs); open refuses a store holding less than that.

use crate::backend::{Backend, SyncCounts};
use crate::error::StoreError;
use crate::group_commit::GroupCommit;
use crate::keys;
use crate::ledger::{self, Mark};
use crate::record;
use receipt_domain::{CommandId, ConversationId, Event, EventId};
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// When an append's events reach stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Every append makes itself durable (sled flush, `fdatasync` of the data, then of the
    /// ledger) before it returns.
    EveryAppend,
    /// Concurrent appenders wait for one shared commit (same syncs as `EveryAppend`) before
    /// returning: each append returns only once a sync that covers it has finished.
    GroupCommit,
    /// Return at once; sled writes in the background every `flush_every_ms` (500 ms) with
    /// `sync_file_range` only. A process crash or a power loss can lose the appends of that
    /// interval; the ledger records only explicit flushes (`EventLog::flush`, a clean close).
    Buffered,
}

/// The events of one decision, for one conversation stream, expected at a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendRequest {
    /// The stream the events belong to.
    pub conversation: ConversationId,
    /// The stream's version the decision was made against (0 for a stream with no events).
    pub expected_version: u64,
    /// The events, in order; their ids name the decision (a retry carries the same ids).
    pub events: Vec<Event>,
}

/// Where an append's events are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Global position of the first event.
    pub first_position: u64,
    /// Number of events.
    pub count: u32,
    /// The stream's version after these events.
    pub version: u64,
    /// The events were already stored (a retried append): nothing was written.
    pub duplicate: bool,
}

/// A batch written but perhaps not yet durable (see [`EventLog::write_batch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// One outcome per request, in order.
    pub outcomes: Vec<Appended>,
    pub(crate) seq: u64,
    pub(crate) flushes_begun: u64,
}

impl Written {
    /// How many backend flushes had begun when this write was complete (read under the writer
    /// lock). A flush numbered above this began after the write, so it covers it: for tests
    /// and audits of the durability promise (see [`SyncCounts::newest_completed_flush`]).
    pub fn flushes_begun(&self) -> u64 {
        self.flushes_begun
    }
}

/// An event with its global position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// 0-based position in the whole log.
    pub position: u64,
    /// The event.
    pub event: Event,
}

/// An event with its place in its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvent {
    /// 1-based version within the stream.
    pub version: u64,
    /// 0-based position in the whole log.
    pub position: u64,
    /// The event.
    pub event: Event,
}

/// What the log holds for a command id (see [`EventLog::find_command`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandRecord {
    /// The command's events, where they were stored.
    Events(Vec<StoredEvent>),
    /// The command was accepted as a no-op: it recorded nothing.
    NoOp,
}

/// How many chunks may follow the index watermark before it is written again.
pub(crate) const WATERMARK_EVERY_CHUNKS: u32 = 64;

pub(crate) struct Writer {
    pub(crate) head: u64,
    pub(crate) chunks_since_watermark: u32,
    pub(crate) versions: FxHashMap<Vec<u8>, u64>,
    /// Running CRC-32 of every chunk record before `head`.
    pub(crate) chain: u32,
    /// Position and CRC-32 of the last chunk record (the one ending at `head`).
    pub(crate) last_chunk: (u64, u32),
}

/// The ledger's state: the last mark written and its write sequence.
#[derive(Default)]
pub(crate) struct LedgerState {
    pub(crate) written: Mark,
}

/// The event log over a backend. See the module docs and docs/storage.md.
pub struct EventLog<B: Backend> {
    pub(crate) backend: B,
    pub(crate) durability: Durability,
    pub(crate) writer: Mutex<Writer>,
    pub(crate) written_seq: AtomicU64,
    /// Appenders inside `write_batch` (waiting for the writer or writing): a group-commit
    /// leader lets them finish so one flush covers them.
    pub(crate) in_flight: AtomicU64,
    pub(crate) group: GroupCommit,
    pub(crate) ledger: Mutex<LedgerState>,
    /// Every event before this position is on stable storage and in the ledger.
    pub(crate) durable_head: AtomicU64,
    /// Set once `open` has checked the store. A log whose open failed must never write: its
    /// `Drop` would otherwise commit, and record a damaged store's shorter head in the ledger.
    pub(crate) opened: bool,
    /// The generation checkpoint entries are bound to, and the lock of their writes.
    pub(crate) checkpoints: crate::checkpoint::Checkpoints,
}

impl<B: Backend> std::fmt::Debug for EventLog<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Where the log is and how far it got; its contents are what `read_from` is for.
        f.debug_struct("EventLog")
            .field("store", &self.backend.location())
            .field("head", &self.head())
            .field("durable_head", &self.durable_head())
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Drop for EventLog<B> {
    fn drop(&mut self) {
        // A clean close leaves nothing to re-index; a failure here only means more work on open.
        if self.opened {
            let _ = self.flush();
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every guarded structure is updated only after its fallible steps succeeded, with no
    // panic point between: a panic elsewhere cannot leave it half-updated.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<B: Backend> EventLog<B> {
    /// The backend underneath.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Sync calls the backend made so far.
    pub fn syncs(&self) -> SyncCounts {
        self.backend.syncs()
    }

    pub(crate) fn writer(&self) -> MutexGuard<'_, Writer> {
        lock(&self.writer)
    }

    /// Number of events in the log, i.e. the next position.
    pub fn head(&self) -> u64 {
        self.writer().head
    }

    /// Every event before this position is on stable storage and recorded in the ledger.
    pub fn durable_head(&self) -> u64 {
        self.durable_head.load(Ordering::SeqCst)
    }

    /// Appends one decision's events atomically.
    pub fn append(&self, request: AppendRequest) -> Result<Appended, StoreError> {
        let mut out = self.append_batch(std::slice::from_ref(&request))?;
        // append_batch returns exactly one outcome per request.
        Ok(out.remove(0))
    }

    /// Appends several decisions as one atomic chunk: all of them, or none; returns once the
    /// chunk is as durable as the log's durability option promises.
    pub fn append_batch(&self, requests: &[AppendRequest]) -> Result<Vec<Appended>, StoreError> {
        let written = self.write_batch(requests)?;
        self.wait_durable(&written)?;
        Ok(written.outcomes)
    }

    /// The first half of an append: checks and writes atomically, without waiting for
    /// durability. Whoever needs the ordering (the engine folds under its own lock) writes, then
    /// calls [`EventLog::wait_durable`] outside that lock, so concurrent appenders share flushes.
    ///
    /// A request whose event ids are already stored is a retry: its outcome says where they
    /// are (`duplicate`), whatever was appended since, and nothing is written for it.
    pub fn write_batch(&self, requests: &[AppendRequest]) -> Result<Written, StoreError> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let written = self.write_batch_inner(requests);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        written
    }

    fn write_batch_inner(&self, requests: &[AppendRequest]) -> Result<Written, StoreError> {
        self.refuse_writes()?;
        for r in requests {
            if r.events.is_empty() {
                return Err(StoreError::EmptyAppend);
            }
            for e in &r.events {
                let found = e.body.conversation();
                if found != r.conversation {
                    return Err(StoreError::WrongStream {
                        event: e.id,
                        expected: r.conversation.clone(),
                        found,
                    });
                }
            }
        }
        let mut w = self.writer();
        let head = w.head;
        let mut planned: FxHashMap<Vec<u8>, u64> = FxHashMap::default();
        let mut planned_ids: FxHashMap<EventId, usize> = FxHashMap::default();
        let mut chunk: Vec<Event> = Vec::new();
        let mut outcomes = Vec::with_capacity(requests.len());
        for (i, r) in requests.iter().enumerate() {
            // The same decision twice in one batch is one append; any other sharing of an event
            // id (between requests, or inside one) would store an id twice.
            if let Some(&earlier) = planned_ids.get(&r.events[0].id) {
                if requests[earlier].events != r.events {
                    return Err(StoreError::DuplicateInBatch(r.events[0].id));
                }
                let mut again: Appended = outcomes[earlier];
                again.duplicate = true;
                outcomes.push(again);
                continue;
            }
            let mut ids = rustc_hash::FxHashSet::default();
            if let Some(e) = r
                .events
                .iter()
                .find(|e| planned_ids.contains_key(&e.id) || !ids.insert(e.id))
            {
                return Err(StoreError::DuplicateInBatch(e.id));
            }
            if let Some(stored) = self.stored_decision(r)? {
                outcomes.push(stored);
                continue;
            }
            let stream = keys::stream_key(&r.conversation);
            let current = match planned.get(&stream) {
                Some(&v) => v,
                None => self.stream_version(&mut w, &stream)?,
            };
            if current != r.expected_version {
                return Err(StoreError::Conflict {
                    conversation: r.conversation.clone(),
                    expected_version: r.expected_version,
                    actual_version: current,
                });
            }
            let n = r.events.len() as u64;
            let offset = chunk.len() as u32;
            outcomes.push(Appended {
                first_position: head + u64::from(offset),
                count: n as u32,
                version: current + n,
                duplicate: false,
            });
            for e in &r.events {
                planned_ids.insert(e.id, i);
            }
            chunk.extend(r.events.iter().cloned());
            planned.insert(stream, current + n);
        }
        if !chunk.is_empty() {
            let bytes = record::encode_chunk(head, &chunk)?;
            let chain = ledger::chain(w.chain, &bytes);
            let crc = crc32fast::hash(&bytes);
            // The commit point: one single-key insert of the chunk, atomic in every backend.
            self.backend.write_each(vec![(keys::chunk(head), bytes)])?;
            w.head = head + chunk.len() as u64;
            w.chain = chain;
            w.last_chunk = (head, crc);
            // Then the index entries (derivable from the chunk; repaired on open if lost).
            let mut versions = std::mem::take(&mut w.versions);
            let entries = self.index_entries(head, &chunk, &mut versions, |stream| {
                self.stored_version(stream)
            });
            w.versions = versions;
            let mut puts = entries?;
            // The watermark only bounds how much an open after a crash re-indexes, so it is
            // written every WATERMARK_EVERY_CHUNKS chunks (and on flush), not on every append.
            w.chunks_since_watermark += 1;
            if w.chunks_since_watermark >= WATERMARK_EVERY_CHUNKS {
                puts.push((keys::HEAD.to_vec(), keys::u64_value(w.head)));
                w.chunks_since_watermark = 0;
            }
            self.backend.write_each(puts)?;
        }
        // Numbered while the writer lock is held, so a higher number was written later.
        let seq = self.written_seq.fetch_add(1, Ordering::SeqCst) + 1;
        let flushes_begun = self.backend.syncs().flushes_started;
        drop(w);
        Ok(Written {
            outcomes,
            seq,
            flushes_begun,
        })
    }

    /// If the request's events are stored already, where they are; if only some of them are,
    /// an error; if none, `None`.
    fn stored_decision(&self, r: &AppendRequest) -> Result<Option<Appended>, StoreError> {
        let mut found = Vec::with_capacity(r.events.len());
        for e in &r.events {
            found.push(self.event_location(e.id)?);
        }
        if found.iter().all(Option::is_none) {
            return Ok(None);
        }
        let mismatch = || StoreError::DuplicateMismatch {
            conversation: r.conversation.clone(),
            expected_version: r.expected_version,
        };
        let Some(Some((first_position, first_version))) = found.first().copied() else {
            return Err(mismatch());
        };
        // Stored together, in order, in this stream, with the same content. A decision's
        // events are always in one chunk (and the writer lock is held: no `head()` here).
        let mut stored = self.read_chunk_from(first_position)?;
        stored.truncate(r.events.len());
        let same = stored.len() == r.events.len()
            && stored.iter().zip(&r.events).all(|(s, e)| &s.event == e)
            && found
                .iter()
                .enumerate()
                .all(|(i, f)| *f == Some((first_position + i as u64, first_version + i as u64)));
        if !same {
            return Err(mismatch());
        }
        Ok(Some(Appended {
            first_position,
            count: r.events.len() as u32,
            version: first_version + r.events.len() as u64 - 1,
            duplicate: true,
        }))
    }

    /// Where an event is stored (position, stream version), if it is.
    pub fn event_location(&self, id: EventId) -> Result<Option<(u64, u64)>, StoreError> {
        match self.backend.get(&keys::event(id))? {
            None => Ok(None),
            Some(v) => keys::parse_event_value(&v)
                .map(Some)
                .ok_or_else(|| StoreError::corrupt(0, format!("bad event index entry for {id}"))),
        }
    }

    /// What the log holds for a command: its events (derived ids `id.event_id(0..)`, stored
    /// together), a no-op record, or nothing. This is how a retried command finds its original
    /// outcome, however much was appended since.
    pub fn find_command(&self, id: CommandId) -> Result<Option<CommandRecord>, StoreError> {
        if let Some((position, _)) = self.event_location(id.event_id(0))? {
            // A decision's events are contiguous in one chunk: read while the ids follow.
            let mut events = Vec::new();
            for (i, e) in self.read_chunk_from(position)?.into_iter().enumerate() {
                if e.event.id != id.event_id(i as u32) {
                    break;
                }
                events.push(e);
            }
            if events.is_empty() {
                return Err(StoreError::corrupt(
                    position,
                    format!(
                        "the event index places command {} here, the chunk disagrees",
                        id.0
                    ),
                ));
            }
            return Ok(Some(CommandRecord::Events(events)));
        }
        Ok(self
            .backend
            .get(&keys::noop(id))?
            .map(|_| CommandRecord::NoOp))
    }

    /// Records that command `id` was accepted as a no-op, so a retry of it is answered the same
    /// way whatever happens meanwhile. Durable once [`EventLog::wait_durable`] returns.
    pub fn record_noop(&self, id: CommandId) -> Result<Written, StoreError> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let written = (|| {
            self.refuse_writes()?;
            let w = self.writer();
            self.backend
                .write_each(vec![(keys::noop(id), keys::u64_value(w.head))])?;
            let seq = self.written_seq.fetch_add(1, Ordering::SeqCst) + 1;
            let flushes_begun = self.backend.syncs().flushes_started;
            drop(w);
            Ok(Written {
                outcomes: Vec::new(),
                seq,
                flushes_begun,
            })
        })();
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        written
    }
}
