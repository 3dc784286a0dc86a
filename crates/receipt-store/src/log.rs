//! The event log: atomic, ordered, idempotent appends per conversation stream, over any backend.
//!
//! One writer (a mutex) checks expected versions and assigns positions, then inserts the chunk
//! (the commit point: one key, atomic), then the chunk's stream runs and the index watermark
//! (derivable from the chunk, rewritten on open if a crash lost them). Positions
//! and versions are read from the keyspace at open and kept with the writer, never from a counter
//! outside it.

use crate::backend::{Backend, Entry};
use crate::error::StoreError;
use crate::group_commit::GroupCommit;
use crate::keys::{self, Run};
use crate::record;
use receipt_domain::{ConversationId, Event, State};
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// When an append's events reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Flush before every append returns.
    EveryAppend,
    /// Concurrent appenders wait for one shared flush before returning.
    GroupCommit,
    /// Return at once; the backend flushes in the background (sled: every `flush_every_ms`).
    Buffered,
}

/// The events of one decision, for one conversation stream, expected at a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendRequest {
    pub conversation: ConversationId,
    /// The stream's version the decision was made against (0 for a stream with no events).
    pub expected_version: u64,
    pub events: Vec<Event>,
}

/// Where an append's events are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub first_position: u64,
    pub count: u32,
    /// The stream's version after these events.
    pub version: u64,
    /// The events were already stored (a retried append): nothing was written.
    pub duplicate: bool,
}

/// A batch written but perhaps not yet durable (see [`EventLog::write_batch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub outcomes: Vec<Appended>,
    seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub position: u64,
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvent {
    /// 1-based version within the stream.
    pub version: u64,
    pub position: u64,
    pub event: Event,
}

/// How many chunks may follow the index watermark before it is written again.
const WATERMARK_EVERY_CHUNKS: u32 = 64;

struct Writer {
    head: u64,
    chunks_since_watermark: u32,
    versions: FxHashMap<Vec<u8>, u64>,
}

pub struct EventLog<B: Backend> {
    backend: B,
    durability: Durability,
    writer: Mutex<Writer>,
    written_seq: AtomicU64,
    /// Appenders inside `write_batch` (waiting for the writer or writing): a group-commit
    /// leader lets them finish so one flush covers them.
    in_flight: AtomicU64,
    group: GroupCommit,
}

impl<B: Backend> Drop for EventLog<B> {
    fn drop(&mut self) {
        // A clean close leaves nothing to re-index; a failure here only means more work on open.
        let _ = self.flush();
    }
}

impl<B: Backend> EventLog<B> {
    /// Opens the log over a backend. The head is where the last chunk ends; stream runs missing
    /// after the index watermark (a crash between a chunk and its index entries) are rewritten.
    pub fn open(backend: B, durability: Durability) -> Result<Self, StoreError> {
        let indexed = match backend.get(keys::HEAD)? {
            None => 0,
            Some(v) => keys::parse_u64(&v)
                .ok_or_else(|| StoreError::corrupt(0, "unreadable index watermark"))?,
        };
        let last = backend.last_between(&keys::chunk(0), &keys::chunk(u64::MAX))?;
        let head = match last {
            None => 0,
            Some((k, v)) => {
                let position = keys::chunk_position(&k)
                    .ok_or_else(|| StoreError::corrupt(0, "bad chunk key"))?;
                position + record::decode_chunk(&v, position)?.len() as u64
            }
        };
        if indexed > head {
            return Err(StoreError::corrupt(
                head,
                format!("index covers {indexed} events, chunks end at {head}"),
            ));
        }
        let log = Self {
            backend,
            durability,
            writer: Mutex::new(Writer {
                head,
                chunks_since_watermark: 0,
                versions: FxHashMap::default(),
            }),
            written_seq: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            group: GroupCommit::default(),
        };
        if indexed < head {
            log.reindex_from(indexed)?;
        }
        Ok(log)
    }

    /// Rewrites the stream runs of every chunk from the one holding `position` to the head.
    fn reindex_from(&self, position: u64) -> Result<(), StoreError> {
        let mut w = self.writer();
        let start = self
            .backend
            .last_between(&keys::chunk(0), &keys::chunk(position))?
            .map_or_else(|| keys::chunk(0), |(k, _)| k);
        let from = keys::chunk_position(&start).unwrap_or(0);
        // Versions as of `from`: runs of later chunks may exist already and must not count.
        let mut versions: FxHashMap<Vec<u8>, u64> = FxHashMap::default();
        let chunks: Vec<_> = self.backend.range(&start, &keys::chunk(w.head)).collect();
        for item in chunks {
            let (k, v) = item?;
            let at = keys::chunk_position(&k)
                .ok_or_else(|| StoreError::corrupt(position, "bad chunk key"))?;
            let events = record::decode_chunk(&v, at)?;
            let mut puts = self.runs_of(at, &events, &mut versions, |stream| {
                self.version_before(stream, from)
            })?;
            puts.push((
                keys::HEAD.to_vec(),
                keys::u64_value(at + events.len() as u64),
            ));
            self.backend.write_each(puts)?;
        }
        w.versions.clear(); // reloaded from the now complete runs
        tracing::info!(from, to = w.head, "stream index repaired after a crash");
        drop(w);
        self.backend.flush()
    }

    /// A stream's version counting only its events in chunks before `position`.
    fn version_before(&self, stream: &[u8], position: u64) -> Result<u64, StoreError> {
        let mut runs = self
            .backend
            .range(&keys::run(stream, 0), &keys::run(stream, u64::MAX));
        let mut version = 0;
        // Runs are in version order, which is also chunk order: stop at the first late one.
        for item in &mut runs {
            let (k, v) = item?;
            let first = keys::run_first_version(&k)
                .ok_or_else(|| StoreError::corrupt(position, "bad stream run key"))?;
            let run =
                Run::decode(&v).ok_or_else(|| StoreError::corrupt(position, "bad stream run"))?;
            if run.chunk_position >= position {
                break;
            }
            version = (first + u64::from(run.count)).saturating_sub(1);
        }
        Ok(version)
    }

    /// The stream runs of a chunk at `position`: one per maximal run of consecutive events of
    /// one stream. A pure function of the chunk and the versions before it, so rewriting them
    /// after a crash writes exactly what the append wrote. `versions` carries the versions
    /// reached so far; `before` gives a stream's version when `versions` does not know it.
    fn runs_of(
        &self,
        position: u64,
        events: &[Event],
        versions: &mut FxHashMap<Vec<u8>, u64>,
        mut before: impl FnMut(&[u8]) -> Result<u64, StoreError>,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut puts = Vec::new();
        let mut i = 0;
        while i < events.len() {
            let conversation = events[i].body.conversation();
            let mut j = i + 1;
            while j < events.len() && events[j].body.conversation() == conversation {
                j += 1;
            }
            let stream = keys::stream_key(&conversation);
            let current = match versions.get(&stream) {
                Some(&v) => v,
                None => before(&stream)?,
            };
            let run = Run {
                chunk_position: position,
                offset: i as u32,
                count: (j - i) as u32,
            };
            puts.push((keys::run(&stream, current + 1), run.encode()));
            versions.insert(stream, current + (j - i) as u64);
            i = j;
        }
        Ok(puts)
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        // The writer's fields are updated only after a successful write, with no fallible step
        // between: a panic elsewhere cannot leave them half-updated.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Number of events in the log, i.e. the next position.
    pub fn head(&self) -> u64 {
        self.writer().head
    }

    /// The stream's version: how many events it holds.
    pub fn version(&self, conversation: &ConversationId) -> Result<u64, StoreError> {
        let stream = keys::stream_key(conversation);
        let mut w = self.writer();
        self.stream_version(&mut w, &stream)
    }

    fn stream_version(&self, w: &mut Writer, stream: &[u8]) -> Result<u64, StoreError> {
        if let Some(&v) = w.versions.get(stream) {
            return Ok(v);
        }
        let v = self.stored_version(stream)?;
        w.versions.insert(stream.to_vec(), v);
        Ok(v)
    }

    /// A stream's version as the index says: where its last run ends.
    fn stored_version(&self, stream: &[u8]) -> Result<u64, StoreError> {
        // The version is where the stream's last run ends.
        let last = self
            .backend
            .last_between(&keys::run_prefix(stream), &keys::run(stream, u64::MAX))?;
        let v = match last {
            None => 0,
            Some((k, v)) => {
                let first = keys::run_first_version(&k)
                    .ok_or_else(|| StoreError::corrupt(0, "bad stream run key"))?;
                let run =
                    Run::decode(&v).ok_or_else(|| StoreError::corrupt(0, "bad stream run"))?;
                (first + u64::from(run.count)).saturating_sub(1)
            }
        };
        Ok(v)
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
    pub fn write_batch(&self, requests: &[AppendRequest]) -> Result<Written, StoreError> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let written = self.write_batch_inner(requests);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        written
    }

    fn write_batch_inner(&self, requests: &[AppendRequest]) -> Result<Written, StoreError> {
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
        let mut chunk: Vec<Event> = Vec::new();
        let mut outcomes = Vec::with_capacity(requests.len());
        for r in requests {
            let stream = keys::stream_key(&r.conversation);
            let current = match planned.get(&stream) {
                Some(&v) => v,
                None => self.stream_version(&mut w, &stream)?,
            };
            let n = r.events.len() as u64;
            if current != r.expected_version {
                outcomes.push(self.retried_append(r, &stream, current)?);
                continue;
            }
            let offset = chunk.len() as u32;
            outcomes.push(Appended {
                first_position: head + u64::from(offset),
                count: n as u32,
                version: current + n,
                duplicate: false,
            });
            chunk.extend(r.events.iter().cloned());
            planned.insert(stream, current + n);
        }
        if !chunk.is_empty() {
            // The commit point: one single-key insert of the chunk, atomic in every backend.
            self.backend.write_each(vec![(
                keys::chunk(head),
                record::encode_chunk(head, &chunk)?,
            )])?;
            w.head = head + chunk.len() as u64;
            // Then the index entries (derivable from the chunk; repaired on open if lost).
            let mut versions = std::mem::take(&mut w.versions);
            let runs = self.runs_of(head, &chunk, &mut versions, |stream| {
                self.stored_version(stream)
            });
            w.versions = versions;
            let mut puts = runs?;
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
        drop(w);
        Ok(Written { outcomes, seq })
    }

    /// The second half of an append: returns once the write is as durable as promised.
    pub fn wait_durable(&self, written: &Written) -> Result<(), StoreError> {
        self.make_durable(written.seq)
    }

    /// A request whose expected version is not the stream's: a retry of stored events (return
    /// where they are), a partial overlap (error), or a conflict.
    fn retried_append(
        &self,
        r: &AppendRequest,
        stream: &[u8],
        current: u64,
    ) -> Result<Appended, StoreError> {
        let conflict = || StoreError::Conflict {
            conversation: r.conversation.clone(),
            expected_version: r.expected_version,
            actual_version: current,
        };
        if current < r.expected_version {
            return Err(conflict());
        }
        let stored = self.read_stream_from(stream, r.expected_version + 1, r.events.len())?;
        let matching = stored
            .iter()
            .zip(&r.events)
            .filter(|(s, e)| s.event.id == e.id)
            .count();
        if matching == r.events.len() {
            return Ok(Appended {
                first_position: stored[0].position,
                count: r.events.len() as u32,
                version: r.expected_version + r.events.len() as u64,
                duplicate: true,
            });
        }
        let any_stored = r
            .events
            .iter()
            .any(|e| stored.iter().any(|s| s.event.id == e.id));
        if matching > 0 || any_stored {
            return Err(StoreError::DuplicateMismatch {
                conversation: r.conversation.clone(),
                expected_version: r.expected_version,
            });
        }
        Err(conflict())
    }

    fn make_durable(&self, seq: u64) -> Result<(), StoreError> {
        match self.durability {
            Durability::EveryAppend => self.backend.flush(),
            Durability::GroupCommit => self.group.wait_durable(
                seq,
                || self.written_seq.load(Ordering::SeqCst),
                || self.in_flight.load(Ordering::SeqCst),
                || self.backend.flush(),
            ),
            Durability::Buffered => Ok(()),
        }
    }

    /// Makes everything appended so far durable, whatever the durability option, with the
    /// index watermark up to date.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.write_watermark()?;
        self.backend.flush()
    }

    fn write_watermark(&self) -> Result<(), StoreError> {
        let mut w = self.writer();
        if w.chunks_since_watermark > 0 {
            self.backend
                .write_each(vec![(keys::HEAD.to_vec(), keys::u64_value(w.head))])?;
            w.chunks_since_watermark = 0;
        }
        Ok(())
    }

    /// Events of one conversation, from 1-based `from_version`, at most `max`.
    pub fn read_stream(
        &self,
        conversation: &ConversationId,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<StreamEvent>, StoreError> {
        let events =
            self.read_stream_from(&keys::stream_key(conversation), from_version.max(1), max)?;
        // The index is data too: an entry pointing at another stream's events is corruption.
        if let Some(e) = events
            .iter()
            .find(|e| &e.event.body.conversation() != conversation)
        {
            return Err(StoreError::corrupt(
                e.position,
                format!("stream index of {conversation} points at an event of another stream"),
            ));
        }
        Ok(events)
    }

    fn read_stream_from(
        &self,
        stream: &[u8],
        from_version: u64,
        max: usize,
    ) -> Result<Vec<StreamEvent>, StoreError> {
        let prefix = keys::run_prefix(stream);
        let start = self
            .backend
            .last_between(&prefix, &keys::run(stream, from_version))?
            .map_or_else(|| keys::run(stream, 0), |(k, _)| k);
        let mut end = prefix.clone();
        end.extend_from_slice(&[0xFF; 9]);
        let mut out = Vec::new();
        let mut cached: Option<(u64, Vec<Event>)> = None;
        for item in self.backend.range(&start, &end) {
            if out.len() >= max {
                break;
            }
            let (k, v) = item?;
            let first_version = keys::run_first_version(&k)
                .ok_or_else(|| StoreError::corrupt(0, "bad stream run key"))?;
            let run = Run::decode(&v).ok_or_else(|| StoreError::corrupt(0, "bad stream run"))?;
            if cached.as_ref().map(|c| c.0) != Some(run.chunk_position) {
                let bytes = self
                    .backend
                    .get(&keys::chunk(run.chunk_position))?
                    .ok_or_else(|| {
                        StoreError::corrupt(
                            run.chunk_position,
                            "stream index points at a missing chunk",
                        )
                    })?;
                cached = Some((
                    run.chunk_position,
                    record::decode_chunk(&bytes, run.chunk_position)?,
                ));
            }
            let events = &cached
                .as_ref()
                .map(|c| &c.1)
                .ok_or_else(|| StoreError::corrupt(0, "unreachable"))?[..];
            let span = run.offset as usize..(run.offset as usize + run.count as usize);
            let slice = events.get(span).ok_or_else(|| {
                StoreError::corrupt(run.chunk_position, "stream run outside its chunk")
            })?;
            for (i, e) in slice.iter().enumerate() {
                let version = first_version + i as u64;
                if version >= from_version && out.len() < max {
                    out.push(StreamEvent {
                        version,
                        position: run.chunk_position + u64::from(run.offset) + i as u64,
                        event: e.clone(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Visits every event from global position `from` in order, checking that positions are
    /// gapless up to the head. Returns the position after the last event visited.
    pub fn replay(&self, from: u64, visit: impl FnMut(StoredEvent)) -> Result<u64, StoreError> {
        self.replay_range(from, u64::MAX, visit)
    }

    /// Visits the events at positions `from..to` (`to` capped at the head) in order, reading no
    /// chunk past `to`, with the same gap and damage checks as [`EventLog::replay`]. Returns
    /// the position it reached (`to`, capped at the head).
    pub fn replay_range(
        &self,
        from: u64,
        to: u64,
        mut visit: impl FnMut(StoredEvent),
    ) -> Result<u64, StoreError> {
        let to = to.min(self.head());
        let start = self
            .backend
            .last_between(&keys::chunk(0), &keys::chunk(from))?
            .map_or_else(|| keys::chunk(0), |(k, _)| k);
        let mut next: Option<u64> = None;
        for item in self.backend.range(&start, &keys::chunk(to)) {
            let (k, v) = item?;
            let position = keys::chunk_position(&k)
                .ok_or_else(|| StoreError::corrupt(next.unwrap_or(0), "bad chunk key"))?;
            if let Some(expected) = next {
                if position != expected {
                    return Err(StoreError::corrupt(
                        expected,
                        format!("gap: next chunk starts at {position}"),
                    ));
                }
            }
            let events = record::decode_chunk(&v, position)?;
            next = Some(position + events.len() as u64);
            for (i, event) in events.into_iter().enumerate() {
                let p = position + i as u64;
                if p >= from && p < to {
                    visit(StoredEvent { position: p, event });
                }
            }
        }
        let reached = next.unwrap_or(0).max(from.min(to));
        if reached < to {
            return Err(StoreError::corrupt(
                reached,
                format!("log ends at {reached}, expected at least {to}"),
            ));
        }
        Ok(to)
    }

    /// Events from global position `from`, at most `max`.
    pub fn read_from(&self, from: u64, max: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let mut out = Vec::new();
        self.replay(from, |e| {
            if out.len() < max {
                out.push(e);
            }
        })?;
        Ok(out)
    }

    /// Folds the whole log into fresh projections.
    pub fn rebuild(&self) -> Result<(u64, State), StoreError> {
        self.rebuild_from(0, State::new())
    }

    fn rebuild_from(&self, from: u64, mut state: State) -> Result<(u64, State), StoreError> {
        let end = self.replay(from, |e| state.apply(&e.event))?;
        Ok((end, state))
    }

    /// Stores a snapshot of `state`, which must cover exactly the events `[0, position)`.
    /// The snapshot and the position it covers are one record: written atomically.
    pub fn save_snapshot(&self, position: u64, state: &State) -> Result<(), StoreError> {
        let bytes = record::encode_snapshot(position, state)?;
        self.backend.put_snapshot(bytes)?;
        self.backend.flush()
    }

    /// The stored snapshot if it is usable; an unusable one is reported and ignored.
    pub fn load_snapshot(&self) -> Option<(u64, State)> {
        let bytes = match self.backend.get_snapshot() {
            Ok(Some(b)) => b,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "snapshot unreadable; replaying the whole log");
                return None;
            }
        };
        match record::decode_snapshot(&bytes) {
            Ok((position, state)) if position <= self.head() => Some((position, state)),
            Ok((position, _)) => {
                tracing::warn!(
                    position,
                    head = self.head(),
                    "snapshot is ahead of the log; replaying the whole log"
                );
                None
            }
            Err(reason) => {
                tracing::warn!(%reason, "snapshot ignored; replaying the whole log");
                None
            }
        }
    }

    /// Projections as of now: the newest usable snapshot plus the tail after it.
    pub fn recover(&self) -> Result<(u64, State), StoreError> {
        match self.load_snapshot() {
            Some((position, state)) => self.rebuild_from(position, state),
            None => self.rebuild(),
        }
    }
}
