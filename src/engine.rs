//! The `Engine` a chat service embeds: decide → atomic append → fold → publish.
//!
//! The projections are a cache of per-conversation partitions (src/projections.rs): a command
//! loads the one partition it concerns, decides against it, appends, and folds into it.
//!
//! Concurrency: a command holds the lock of the conversation it concerns (src/engine/locks.rs)
//! from its duplicate check through decide, the log write and the fold, so it is decided
//! against the partition that includes every earlier write to that conversation, and the
//! partition folds its stream in order. Commands on other conversations run meanwhile: the
//! partition cache is locked only while a command decides and while it folds, the log's
//! writer only while it writes. The wait for durability happens after every lock is released,
//! so concurrent commands share group-commit flushes, and queries never wait for a disk flush.

use crate::error::EngineError;
use crate::options::EngineOptions;
use crate::projections::{CacheStats, Projections};
use crate::publisher::Publisher;
use receipt_domain::{ConversationId, Event, MessageId, Note, Notification, Policy, State};
use receipt_store::{
    Backend, CommandRecord, EventLog, MemoryBackend, MemoryLog, SledBackend, SledLog, StoreError,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{
    Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard,
};
use std::time::Duration;

mod batch;
mod checkpoint;
mod command;
mod history;
mod locks;
mod open;
mod route;

use checkpoint::{Checkpointer, Shared};
use locks::{ConversationLocks, MessageReservations};

/// sled's page cache gets 1/this of an engine's memory budget (sled's default would be 1 GiB).
const SLED_SHARE_OF_BUDGET: usize = 4;
/// sled refuses a cache below 256 bytes and crawls with a tiny one: a floor however small the
/// budget (a 1-byte budget is how the tests force evictions).
const MIN_SLED_CACHE_BYTES: usize = 1 << 20;

/// Bytes a dirty summary or header entry is counted as when deciding to checkpoint early.
const DIRTY_ENTRY_BYTES: usize = 160;

/// What one checkpoint did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckpointReport {
    /// Events covered: the log's head when the checkpoint copied what had changed.
    pub position: u64,
    /// Partitions written (the conversations changed since the last checkpoint and resident).
    pub partitions: usize,
    /// Entries written (partitions, headers, summaries, the marker).
    pub entries: usize,
    /// Bytes written.
    pub bytes: u64,
    /// How long commands and queries waited for it: the copy of what changed.
    pub pause: Duration,
    /// How long it took in all (the copy, encoding, the atomic write).
    pub total: Duration,
}

/// Progress is reported every this many replayed events.
pub const PROGRESS_EVERY_EVENTS: u64 = 8_192;

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The events the command recorded: empty for a command accepted as a no-op (`note` says
    /// why); for a retried command id (`repeated: true`), the events it recorded the first
    /// time.
    pub events: Vec<Event>,
    /// Log position of the first event, if any were recorded.
    pub first_position: Option<u64>,
    /// What the caller should know beyond the events (a no-op, a declined group-ack request).
    pub note: Option<Note>,
    /// The notifications the events produced (also published to subscribers).
    pub notifications: Vec<Notification>,
    /// The command's id was already recorded: this is its original outcome (same events,
    /// positions and note), nothing was appended, and `notifications` is empty because they
    /// were published the first time.
    pub repeated: bool,
}

impl Outcome {
    /// A command that recorded no event: accepted as a no-op (`note` says why), or, with
    /// `repeated`, a retry of one.
    pub(crate) fn without_events(note: Option<Note>, repeated: bool) -> Self {
        Self {
            events: Vec::new(),
            first_position: None,
            note,
            notifications: Vec::new(),
            repeated,
        }
    }
}

/// The receipt engine over a log backend: sled by default, or in memory.
pub struct Engine<B: Backend = SledBackend> {
    shared: Arc<Shared<B>>,
    options: EngineOptions,
    policy: RwLock<Policy>,
    publisher: Publisher,
    checkpointer: Checkpointer,
    /// [`Engine::close`] did the closing work: dropping does nothing more.
    closed: bool,
}

impl<B: Backend> std::fmt::Debug for Engine<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The state can hold millions of entries: show where the engine is, not what it holds.
        f.debug_struct("Engine")
            .field("store", &self.shared.log.backend().location())
            .field("head", &self.shared.log.head())
            .field("durable_head", &self.shared.log.durable_head())
            .field("durability", &self.options.durability)
            .field("stopped", &self.shared.stopped.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Engine<SledBackend> {
    /// Opens (or creates) an engine stored in `dir` on the embedded sled default: reads the
    /// checkpoint marker and folds the log's tail after it; partitions load when first used.
    ///
    /// ```
    /// # use receipt_engine::*;
    /// let dir = std::env::temp_dir().join(format!("receipts-doc-open-{}", std::process::id()));
    /// let (ann, bob) = (UserId::new("ann")?, UserId::new("bob")?);
    /// let chat = ConversationId::direct(ann.clone(), bob.clone())?;
    /// {
    ///     let engine = Engine::open(&dir, EngineOptions::default())?;
    ///     engine.send_message(&chat, MessageId(uuid::Uuid::now_v7()), &ann)?; // durable on return
    /// }
    /// let reopened = Engine::open(&dir, EngineOptions::default())?; // replays the log
    /// assert_eq!(reopened.unread_count(&bob, &chat)?, 1);
    /// # drop(reopened);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(
        dir: impl AsRef<std::path::Path>,
        options: EngineOptions,
    ) -> Result<Self, EngineError> {
        // sled's page cache gets a quarter of the budget, the partition cache the rest.
        let sled_cache_bytes =
            (options.memory_budget_bytes / SLED_SHARE_OF_BUDGET).max(MIN_SLED_CACHE_BYTES) as u64;
        let log = SledLog::open_dir_with_cache(dir.as_ref(), options.durability, sled_cache_bytes)?;
        let mut options = options;
        options.memory_budget_bytes -= options.memory_budget_bytes / SLED_SHARE_OF_BUDGET;
        Self::over(log, options)
    }

    /// Opens an existing engine to answer queries only: the engine writes and syncs nothing
    /// (no checkpoint, no ledger, no clean-close marker, no flush), and every command is
    /// refused with [`StoreError::ReadOnly`]. Partitions evicted under the memory budget are
    /// dropped and loaded again (checkpoint, then the stream's tail) when next asked for.
    ///
    /// Only a store closed cleanly, with its checkpoints and index in place, opens this way;
    /// one that needs a recovery first is [`StoreError::NeedsRecovery`] (open it with
    /// [`Engine::open`] once). docs/storage.md ("Read-only opens") says what sled itself
    /// still writes.
    pub fn open_read_only(
        dir: impl AsRef<std::path::Path>,
        options: EngineOptions,
    ) -> Result<Self, EngineError> {
        let sled_cache_bytes =
            (options.memory_budget_bytes / SLED_SHARE_OF_BUDGET).max(MIN_SLED_CACHE_BYTES) as u64;
        let log = SledLog::open_dir_read_only(dir.as_ref(), Some(sled_cache_bytes))?;
        let mut options = options;
        options.memory_budget_bytes -= options.memory_budget_bytes / SLED_SHARE_OF_BUDGET;
        Self::over(log, options)
    }
}

impl Engine<MemoryBackend> {
    /// An engine whose log lives in memory (nothing survives the process).
    pub fn in_memory(options: EngineOptions) -> Result<Self, EngineError> {
        Self::over(MemoryLog::in_memory(), options)
    }
}

/// The outcome of a command found in the log: its original events, positions and note.
fn repeated_outcome(record: CommandRecord) -> Outcome {
    match record {
        CommandRecord::Events(stored) => {
            let first_position = stored.first().map(|e| e.position);
            let events: Vec<Event> = stored.into_iter().map(|e| e.event).collect();
            Outcome {
                note: Note::of_recorded(&events),
                events,
                first_position,
                notifications: Vec::new(),
                repeated: true,
            }
        }
        CommandRecord::NoOp => Outcome::without_events(Some(Note::AlreadyDone), true),
    }
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // Poisoning means a panic happened elsewhere while the lock was held; the fold and the
    // policy swap have no panic point between partial updates, so the data is consistent.
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

fn lock<T>(l: &Mutex<T>) -> MutexGuard<'_, T> {
    // Poisoning means a panic elsewhere while the cache was held; the cache is rebuilt from
    // the log on the next open, and every update to it completes without a panic point.
    l.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<B: Backend> Engine<B> {
    /// Wraps an opened log: recovers the projections (the checkpoint marker, then the log's
    /// tail after it), reporting progress.
    pub fn over(log: EventLog<B>, options: EngineOptions) -> Result<Self, EngineError> {
        options.policy.validate()?;
        let mut projections = Projections::new(options.memory_budget_bytes);
        let from = open::recover(&log, &mut projections, &options)?;
        let shared = Arc::new(Shared {
            last_checkpoint_at: AtomicU64::new(from),
            projections: Mutex::new(projections),
            conversation_locks: ConversationLocks::new(),
            fold_gate: RwLock::new(()),
            reservations: MessageReservations::default(),
            early_ack_admission: Mutex::new(()),
            checkpoint_lock: Mutex::new(()),
            stopped: OnceLock::new(),
            log,
        });
        let read_only = shared.log.is_read_only();
        let engine = Self {
            policy: RwLock::new(options.policy.clone()),
            publisher: Publisher::starting_at(shared.log.head()),
            // A read-only engine never checkpoints: no thread waits for requests.
            checkpointer: if read_only {
                Checkpointer::none()
            } else {
                Checkpointer::start(shared.clone())
            },
            shared,
            options,
            closed: false,
        };
        if !read_only {
            // A long tail was just folded: checkpoint it soon rather than fold it again.
            engine.maybe_checkpoint();
        }
        Ok(engine)
    }

    fn check_running(&self) -> Result<(), EngineError> {
        self.shared.log.refuse_writes()?;
        match self.shared.stopped.get() {
            Some(cause) => Err(EngineError::Stopped(cause.clone())),
            None => Ok(()),
        }
    }

    /// Stops the engine for good, keeping the first cause (later commands report it too).
    fn stop(&self, cause: StoreError) -> EngineError {
        let _ = self.shared.stopped.set(Arc::new(cause));
        match self.shared.stopped.get() {
            Some(first) => EngineError::Stopped(first.clone()),
            // Unreachable: set just above; answer with the cause rather than panic.
            None => EngineError::Store(StoreError::io(
                "engine",
                std::io::Error::other("the engine stopped"),
            )),
        }
    }

    /// A store failure during a write: it stops the engine when the projections already hold
    /// something the log may not (`projections_changed`), and is an ordinary error otherwise.
    fn fail(&self, e: StoreError, projections_changed: bool) -> EngineError {
        if projections_changed {
            self.stop(e)
        } else {
            e.into()
        }
    }

    /// A failed durability wait stops the engine: what is on disk is no longer known.
    fn await_durable(&self, waited: Result<(), StoreError>) -> Result<(), EngineError> {
        waited.map_err(|e| self.stop(e))
    }

    /// Asks the background checkpointer for a checkpoint when `checkpoint_every_events`
    /// events were appended since the last one, or when the dirty summaries outgrow a quarter
    /// of the budget. Never waits: the checkpoint runs off the command path.
    fn maybe_checkpoint(&self) {
        let Some(every) = self.options.checkpoint_every_events else {
            if lock(&self.shared.projections).dirty_entries() > self.dirty_entries_limit() {
                self.checkpointer.request();
            }
            return;
        };
        let due = self.shared.log.head()
            >= self.shared.last_checkpoint_at.load(Ordering::SeqCst) + every
            || lock(&self.shared.projections).dirty_entries() > self.dirty_entries_limit();
        if due {
            self.checkpointer.request();
        }
    }

    fn dirty_entries_limit(&self) -> usize {
        self.options.memory_budget_bytes / 4 / DIRTY_ENTRY_BYTES
    }

    /// Writes a checkpoint now: every partition, header and summary changed since the last
    /// one, and the marker saying how many events they cover. Commands and queries wait only
    /// while what changed is referenced ([`CheckpointReport::pause`]); encoding and writing
    /// happen after.
    pub fn checkpoint(&self) -> Result<CheckpointReport, EngineError> {
        self.shared.checkpoint()
    }

    /// What the partition cache holds and has done (loads, evictions, unusable checkpoint
    /// entries rebuilt from the log).
    pub fn cache_stats(&self) -> CacheStats {
        lock(&self.shared.projections).stats()
    }

    /// Read acks held for messages not sent yet, in all conversations (what
    /// `Policy::max_early_acks_total` bounds).
    pub fn early_acks_held(&self) -> u64 {
        lock(&self.shared.projections).held.total()
    }

    /// The time by the engine's clock, in milliseconds.
    pub(crate) fn now_ms(&self) -> u64 {
        self.options.clock.now_ms()
    }

    /// The policy commands are decided with now.
    pub fn policy(&self) -> Policy {
        read(&self.policy).clone()
    }

    /// Changes the policy for commands from now on. History is never rewritten.
    pub fn set_policy(&self, policy: Policy) -> Result<(), EngineError> {
        policy.validate()?;
        *write(&self.policy) = policy;
        Ok(())
    }

    /// Runs `f` on the partition of one conversation (loaded if it is cold): the whole
    /// projection state of that conversation, as [`decide`](crate::domain::decide) and the queries see it.
    pub fn with_partition<T>(
        &self,
        conversation: &ConversationId,
        f: impl FnOnce(&State, &Policy) -> T,
    ) -> Result<T, EngineError> {
        let mut projections = lock(&self.shared.projections);
        let state = projections.partition(&self.shared.log, conversation, None)?;
        let answer = f(state, &read(&self.policy));
        // A query that loaded a cold partition keeps the cache within its budget too.
        projections.evict_over_budget(&self.shared.log, Some(conversation))?;
        Ok(answer)
    }

    /// Runs `f` on the partition of the conversation `message` was sent in (an empty state for
    /// a message nobody sent, so queries give their usual typed errors).
    pub fn with_message_partition<T>(
        &self,
        message: MessageId,
        f: impl FnOnce(&State, &Policy) -> T,
    ) -> Result<T, EngineError> {
        let Some(conversation) = self.shared.log.message_conversation(message)? else {
            return Ok(f(&State::new(), &read(&self.policy)));
        };
        self.with_partition(&conversation, f)
    }

    /// Runs `f` on the partition cache (for the per-user queries).
    pub(crate) fn with_projections<T>(
        &self,
        f: impl FnOnce(&mut Projections, &EventLog<B>) -> Result<T, StoreError>,
    ) -> Result<T, EngineError> {
        let mut projections = lock(&self.shared.projections);
        let answer = f(&mut projections, &self.shared.log)?;
        projections.evict_over_budget(&self.shared.log, None)?;
        Ok(answer)
    }

    /// Number of events in the log.
    pub fn head(&self) -> u64 {
        self.shared.log.head()
    }

    /// Why the engine stopped taking commands, if it did ([`EngineError::Stopped`]).
    pub fn stopped(&self) -> Option<Arc<StoreError>> {
        self.shared.stopped.get().cloned()
    }

    /// The log underneath, for inspection and export.
    pub fn log(&self) -> &EventLog<B> {
        &self.shared.log
    }

    /// Checks the whole history against the acknowledgement ledger
    /// ([`crate::store::EventLog::check_history`]): damage at rest in old records, which an open does
    /// not read (it checks the tail, so that it does not cost the history). Costs one read of
    /// every chunk. Run it at start where the store's size allows, or as a scheduled scrub;
    /// `receipts exec` runs it before its first command. When it finds damage the engine stops
    /// taking commands ([`EngineError::Stopped`], with the damage as the cause): a store known
    /// to be damaged takes no more writes; `receipts salvage` copies what is readable into a
    /// new store. Returns the chunks checked.
    pub fn check_history(&self) -> Result<u64, EngineError> {
        match self.shared.log.check_history() {
            Ok(chunks) => Ok(chunks),
            Err(e @ (StoreError::Damaged { .. } | StoreError::Corrupt { .. })) => Err(self.stop(e)),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes every append so far durable, whatever the durability option.
    pub fn flush(&self) -> Result<(), EngineError> {
        Ok(self.shared.log.flush()?)
    }

    /// Live notifications from now on, at most `capacity` waiting. Returns the position the
    /// subscription starts at: every notification from it on is delivered, in log order, once
    /// durable, until the subscriber falls `capacity` behind; it then gets [`crate::Overflowed`]
    /// once (after the last notification that fit) and catches up with
    /// [`Engine::notifications_since`], as after a restart. The engine never waits for a
    /// subscriber.
    ///
    /// ```
    /// # use receipt_engine::*;
    /// let engine = Engine::in_memory(EngineOptions::default().with_policy(Policy::all_receipts_on()))?;
    /// let (ann, bob) = (UserId::new("ann")?, UserId::new("bob")?);
    /// let chat = ConversationId::direct(ann.clone(), bob.clone())?;
    /// let (from, mut live) = engine.subscribe(1_000);
    /// let m = MessageId(uuid::Uuid::now_v7());
    /// engine.send_message(&chat, m, &ann)?;
    /// engine.ack_message_read(m, &bob)?;
    /// let told: Vec<Positioned> = live.try_iter().collect::<Result<_, _>>()?;
    /// assert!(told.iter().all(|n| n.position >= from));
    /// assert!(told.iter().any(|n| n.notification.to == ann)); // onMessagesRead
    /// // After a restart, catch up from the last position handled:
    /// assert_eq!(engine.notifications_since(from)?, told);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subscribe(&self, capacity: usize) -> (u64, crate::Subscription) {
        let (start, rx, overflow) = self.publisher.subscribe(capacity);
        (start, crate::Subscription::new(rx, overflow))
    }

    pub(crate) fn publisher(&self) -> &Publisher {
        &self.publisher
    }
}
