//! The projections as a cache of partitions: one [`State`] per conversation, loaded on demand
//! from its checkpoint plus its stream's tail, evicted least-recently-used under a memory
//! budget, and checkpointed incrementally (only what changed).
//!
//! Per-user answers (badge, conversation list) come from a [`ReaderSummary`] per (user,
//! conversation) and a [`ConversationHeader`] per conversation, so they never load a
//! conversation's message records. Everything here is derived from the log and rebuilt from it
//! whenever a checkpoint entry fails its checks.

mod answers;
mod upkeep;

use hashlink::LinkedHashMap;
use receipt_domain::{
    ConversationHeader, ConversationId, Event, HeldEarlyAcks, ReaderSummary, State, UserId,
};
use receipt_store::{Backend, EventLog, StoreError, Unusable};
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::sync::Arc;

/// Bytes counted per folded event between two exact measurements of a partition (the measure
/// walks the partition, so it runs on load and on checkpoint only).
const EVENT_BYTES_ESTIMATE: usize = 48;
/// Bytes counted per resident summary or header entry (key, value, map overhead).
const ENTRY_BYTES_ESTIMATE: usize = 160;

/// What the cache has done since the engine opened.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Partitions loaded from a checkpoint and/or their stream.
    pub loads: u64,
    /// Events read from streams while loading partitions (the tails after their checkpoints).
    pub tail_events_loaded: u64,
    /// Partitions evicted to stay within the memory budget.
    pub evictions: u64,
    /// Evicted partitions whose checkpoint had to be written first.
    pub eviction_writes: u64,
    /// Checkpoint entries that failed their checks and were rebuilt from the log.
    pub unusable_entries: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// The longest time commands and queries waited for a checkpoint (its copy of what
    /// changed), microseconds.
    pub longest_checkpoint_pause_us: u64,
    /// Partitions in memory now.
    pub resident_partitions: u64,
    /// Estimated bytes of the partitions, summaries and headers in memory now.
    pub resident_bytes: u64,
}

struct Part {
    /// Shared with a checkpoint write in flight; a command then changes a copy
    /// (`Arc::make_mut`), so the checkpoint's pause copies pointers only.
    state: Arc<State>,
    dirty: bool,
    bytes: usize,
}

#[derive(Clone, Copy)]
struct Slot<T> {
    value: T,
    dirty: bool,
}

#[derive(Default)]
struct UserSummaries {
    /// Every checkpointed summary of the user has been read in (entries not resident are not
    /// missing but unknown until then).
    complete: bool,
    convs: FxHashMap<ConversationId, Slot<ReaderSummary>>,
}

impl UserSummaries {
    fn dirty(&self) -> bool {
        self.convs.values().any(|s| s.dirty)
    }
}

/// What an [`upsert`] changed.
struct Upserted {
    newly_dirty: bool,
    inserted: bool,
}

/// Sets `map[key]` to `value`; `dirty` marks it dirty (a clean set never clears the mark).
fn upsert<V>(
    map: &mut FxHashMap<ConversationId, Slot<V>>,
    key: &ConversationId,
    value: V,
    dirty: bool,
) -> Upserted {
    match map.get_mut(key) {
        Some(slot) => {
            let newly_dirty = dirty && !slot.dirty;
            slot.value = value;
            slot.dirty |= dirty;
            Upserted {
                newly_dirty,
                inserted: false,
            }
        }
        None => {
            map.insert(key.clone(), Slot { value, dirty });
            Upserted {
                newly_dirty: dirty,
                inserted: true,
            }
        }
    }
}

/// The partition cache. Not thread-safe by itself: the engine keeps it behind a mutex.
pub(crate) struct Projections {
    parts: LinkedHashMap<ConversationId, Part, FxBuildHasher>,
    part_bytes: usize,
    /// Headers, each with the stream version it is exact at.
    headers: FxHashMap<ConversationId, Slot<(ConversationHeader, u64)>>,
    users: LinkedHashMap<UserId, UserSummaries, FxBuildHasher>,
    entry_bytes: usize,
    budget_bytes: usize,
    /// Dirty summary and header entries (what the next checkpoint writes besides partitions).
    dirty_entries: usize,
    /// A checkpoint took entries (marking them clean) and has not finished writing them:
    /// until it has, no summary or header may be evicted, or a query could read an older
    /// stored value.
    checkpoint_in_flight: bool,
    /// Read acks held for messages not sent yet in every conversation, resident or not: kept
    /// by every fold, saved with the marker, so the store-wide bound needs no partition load.
    pub(crate) held: HeldEarlyAcks,
    pub(crate) stats: CacheStats,
}

/// Unreachable: the partition was inserted just before; an error rather than a panic.
fn vanished() -> StoreError {
    StoreError::io(
        "partition cache",
        std::io::Error::other("a partition vanished"),
    )
}

fn unusable<T>(stats: &mut CacheStats, u: &Unusable) -> Option<T> {
    tracing::warn!(reason = %u.0, "checkpoint entry unusable; rebuilding it from the log");
    stats.unusable_entries += 1;
    None
}

impl Projections {
    pub(crate) fn new(budget_bytes: usize) -> Self {
        Self {
            parts: LinkedHashMap::with_hasher(FxBuildHasher),
            part_bytes: 0,
            headers: FxHashMap::default(),
            users: LinkedHashMap::with_hasher(FxBuildHasher),
            entry_bytes: 0,
            budget_bytes,
            dirty_entries: 0,
            checkpoint_in_flight: false,
            held: HeldEarlyAcks::default(),
            stats: CacheStats::default(),
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            resident_partitions: self.parts.len() as u64,
            resident_bytes: (self.part_bytes + self.entry_bytes) as u64,
            ..self.stats
        }
    }

    /// Anything (a partition, a summary, a header) waiting for a checkpoint. O(partitions).
    pub(crate) fn has_dirty(&self) -> bool {
        self.dirty_entries > 0 || self.parts.values().any(|p| p.dirty)
    }

    /// Dirty summary and header entries waiting for a checkpoint.
    pub(crate) fn dirty_entries(&self) -> usize {
        self.dirty_entries
    }

    /// The partition of `conversation`, loaded if cold: its checkpoint, then its stream's events
    /// after it, at most up to version `upto` (all of them when `None`). Never evicts.
    pub(crate) fn partition<B: Backend>(
        &mut self,
        log: &EventLog<B>,
        conversation: &ConversationId,
        upto: Option<u64>,
    ) -> Result<&State, StoreError> {
        if self.parts.contains_key(conversation) {
            self.parts.to_back(conversation);
        } else {
            let (part, unusable) = self.load(log, conversation, upto)?;
            self.part_bytes += part.bytes;
            let header = part.state.header(conversation);
            let version = part.state.events_applied();
            let summaries = part.state.reader_summaries(conversation);
            self.parts.insert(conversation.clone(), part);
            if unusable {
                // Its header and summaries may be as bad: rewritten at the next checkpoint.
                if let Some(h) = header {
                    self.set_header(conversation, h, version, true);
                }
                for (u, s) in summaries {
                    self.set_summary(&u, conversation, s, true);
                }
            }
        }
        match self.parts.get(conversation) {
            Some(p) => Ok(&p.state),
            // Inserted just above.
            None => Err(vanished()),
        }
    }

    fn load<B: Backend>(
        &mut self,
        log: &EventLog<B>,
        conversation: &ConversationId,
        upto: Option<u64>,
    ) -> Result<(Part, bool), StoreError> {
        let (mut state, mut dirty) = match log.load_partition(conversation)? {
            Some(Ok(state)) => (state, false),
            Some(Err(u)) => (unusable(&mut self.stats, &u).unwrap_or_default(), true),
            None => (State::new(), false),
        };
        let was_unusable = dirty;
        // A checkpoint past `upto` (written by an eviction) is still usable: the caller skips
        // the events the state already holds.
        let from = state.events_applied() + 1;
        let max = match upto {
            Some(limit) => {
                usize::try_from(limit.saturating_sub(state.events_applied())).unwrap_or(usize::MAX)
            }
            None => usize::MAX,
        };
        if max > 0 {
            let tail = log.read_stream(conversation, from, max)?;
            self.stats.tail_events_loaded += tail.len() as u64;
            dirty |= !tail.is_empty();
            for e in &tail {
                state.apply(&e.event);
            }
        }
        self.stats.loads += 1;
        let bytes = state.approx_heap_bytes();
        Ok((
            Part {
                state: Arc::new(state),
                dirty,
                bytes,
            },
            was_unusable,
        ))
    }

    /// Folds `event`, the `version`-th of its conversation's stream, into its partition (loading
    /// it up to the version before if cold; an event the partition already holds is skipped),
    /// and refreshes the header and the summaries it may change. Returns the partition.
    pub(crate) fn apply<B: Backend>(
        &mut self,
        log: &EventLog<B>,
        conversation: &ConversationId,
        version: u64,
        event: &Event,
    ) -> Result<&State, StoreError> {
        self.partition(log, conversation, Some(version.saturating_sub(1)))?;
        let part = self.parts.get_mut(conversation).ok_or_else(vanished)?;
        if part.state.events_applied() + 1 < version {
            // The stream holds fewer events before this one than its version says: the event
            // index and the stream index disagree. Folding it would skip events silently.
            return Err(StoreError::corrupt(
                0,
                format!(
                    "event {} is version {version} of {conversation}, whose stream holds only {} events before it",
                    event.id,
                    part.state.events_applied()
                ),
            ));
        }
        if part.state.events_applied() < version {
            // A copy only if a checkpoint write still holds this state.
            Arc::make_mut(&mut part.state).apply(event);
        }
        // Set from the partition even when it already held the event: a partition checkpoint
        // written after the marker (an eviction before a crash) holds events the marker's count
        // does not, and the open's tail passes them here without folding them again.
        // Almost always nothing is held anywhere: then no lookup by id at all.
        let held = part.state.early_acks_held();
        if (held != 0 || self.held.total() != 0) && held != self.held.in_conversation(conversation)
        {
            self.held.set(conversation, held);
        }
        let part = self.parts.get(conversation).ok_or_else(vanished)?;
        let state = &part.state;
        let header = state.header(conversation).unwrap_or_default();
        let version = state.events_applied();
        let summaries: Vec<(UserId, Option<ReaderSummary>)> = event
            .body
            .summary_users()
            .into_iter()
            .map(|u| (u.clone(), state.reader_summary(conversation, u)))
            .collect();
        if let Some(p) = self.parts.get_mut(conversation) {
            p.dirty = true;
            p.bytes += EVENT_BYTES_ESTIMATE;
            self.part_bytes += EVENT_BYTES_ESTIMATE;
        }
        self.set_header(conversation, header, version, true);
        for (user, summary) in summaries {
            if let Some(s) = summary {
                self.set_summary(&user, conversation, s, true);
            }
        }
        self.partition_ref(conversation)
    }

    fn partition_ref(&self, conversation: &ConversationId) -> Result<&State, StoreError> {
        self.parts
            .get(conversation)
            .map(|p| &*p.state)
            .ok_or_else(vanished)
    }

    fn set_header(
        &mut self,
        c: &ConversationId,
        value: ConversationHeader,
        version: u64,
        dirty: bool,
    ) {
        let set = upsert(&mut self.headers, c, (value, version), dirty);
        self.count(set);
    }

    fn set_summary(
        &mut self,
        user: &UserId,
        c: &ConversationId,
        value: ReaderSummary,
        dirty: bool,
    ) {
        if !self.users.contains_key(user) {
            self.entry_bytes += ENTRY_BYTES_ESTIMATE;
            self.users.insert(user.clone(), UserSummaries::default());
        }
        if let Some(entry) = self.users.get_mut(user) {
            let set = upsert(&mut entry.convs, c, value, dirty);
            self.count(set);
        }
    }

    /// Accounts for an [`upsert`]: a newly dirty entry, a new resident entry.
    fn count(&mut self, set: Upserted) {
        self.dirty_entries += usize::from(set.newly_dirty);
        if set.inserted {
            self.entry_bytes += ENTRY_BYTES_ESTIMATE;
        }
    }
}
