//! The `Engine` a chat service embeds: decide → atomic append → fold → publish.
//!
//! Concurrency: one command lock covers decide, the log write and the fold (CPU work only), so
//! every command is decided against the state that includes every earlier write and the fold
//! follows log order. The wait for durability happens after that lock is released, so
//! concurrent commands share group-commit flushes, and queries (a read lock on the state) never
//! wait for a disk flush.

use crate::error::EngineError;
use crate::options::{EngineOptions, Progress};
use crate::publisher::{Positioned, Publisher};
use receipt_domain::{
    decide, Command, CommandId, CommandKind, Event, Note, Notification, Policy, State,
};
use receipt_store::{
    AppendRequest, Backend, CommandRecord, EventLog, MemoryBackend, MemoryLog, SledBackend,
    SledLog, StoreError,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use uuid::Uuid;

mod batch;

/// Progress is reported every this many replayed events.
pub const PROGRESS_EVERY_EVENTS: u64 = 8_192;

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The events recorded (empty when the command repeated something already done).
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

/// The receipt engine over a log backend: sled by default, or in memory.
pub struct Engine<B: Backend = SledBackend> {
    log: EventLog<B>,
    options: EngineOptions,
    policy: RwLock<Policy>,
    state: RwLock<State>,
    command_lock: Mutex<()>,
    last_snapshot_at: AtomicU64,
    publisher: Publisher,
    /// Set once, by the first write that could not be made durable (or, in a batch, written).
    stopped: OnceLock<Arc<StoreError>>,
}

impl<B: Backend> std::fmt::Debug for Engine<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The state can hold millions of entries: show where the engine is, not what it holds.
        f.debug_struct("Engine")
            .field("store", &self.log.backend().location())
            .field("head", &self.log.head())
            .field("durable_head", &self.log.durable_head())
            .field("durability", &self.options.durability)
            .field("stopped", &self.stopped.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Engine<SledBackend> {
    /// Opens (or creates) an engine stored in `dir` on the embedded sled default: loads the
    /// newest usable snapshot and replays the tail after it.
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
    /// assert_eq!(reopened.unread_count(&bob, &chat), 1);
    /// # drop(reopened);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(
        dir: impl AsRef<std::path::Path>,
        options: EngineOptions,
    ) -> Result<Self, EngineError> {
        let log = SledLog::open_dir(dir.as_ref(), options.durability)?;
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
        CommandRecord::NoOp => Outcome {
            events: Vec::new(),
            first_position: None,
            note: Some(Note::AlreadyDone),
            notifications: Vec::new(),
            repeated: true,
        },
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

impl<B: Backend> Engine<B> {
    /// Wraps an opened log: recovers the projections (snapshot + tail), reporting progress.
    pub fn over(log: EventLog<B>, options: EngineOptions) -> Result<Self, EngineError> {
        options.policy.validate()?;
        let total = log.head();
        let (start, mut state) = match log.load_snapshot() {
            Some((position, state)) => (position, state),
            None => (0, State::new()),
        };
        tracing::info!(
            snapshot_position = start,
            total,
            "recovering receipt projections"
        );
        let report = |done: u64| {
            if let Some(f) = &options.on_progress {
                f(Progress { done, total });
            }
        };
        report(start);
        let end = log.replay(start, |e| {
            state.apply(&e.event);
            if (e.position + 1) % PROGRESS_EVERY_EVENTS == 0 {
                report(e.position + 1);
            }
        })?;
        report(end);
        tracing::info!(events = end, "receipt projections ready");
        Ok(Self {
            policy: RwLock::new(options.policy.clone()),
            last_snapshot_at: AtomicU64::new(start),
            publisher: Publisher::starting_at(end),
            state: RwLock::new(state),
            command_lock: Mutex::new(()),
            stopped: OnceLock::new(),
            log,
            options,
        })
    }

    /// Decides and records a command with a fresh id, stamped by the engine's clock.
    pub fn execute(&self, kind: CommandKind) -> Result<Outcome, EngineError> {
        self.execute_command(Command {
            id: CommandId(Uuid::now_v7()),
            at_ms: self.options.clock.now_ms(),
            kind,
        })
    }

    /// Decides and records a command whose id and time the caller chose.
    ///
    /// Idempotent by command id, over the whole history and across restarts: a command whose
    /// id was recorded before (its events, or its acceptance as a no-op) is answered with the
    /// original outcome ([`Outcome::repeated`]) and appends nothing, whatever happened since.
    /// A rejected command records nothing, so retrying it decides it again.
    pub fn execute_command(&self, command: Command) -> Result<Outcome, EngineError> {
        self.check_running()?;
        let guard = self
            .command_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(record) = self.log.find_command(command.id)? {
            drop(guard);
            // The original write may still be on its way to the disk: answer once it is durable.
            self.await_durable(self.log.wait_durable_now())?;
            return Ok(repeated_outcome(record));
        }
        let decision = decide(&read(&self.state), &read(&self.policy), &command)?;
        let Some(first) = decision.events.first() else {
            // Accepted, nothing to record: remember that, so a retry gets the same answer even
            // after later events would make it decide otherwise.
            let written = self.log.record_noop(command.id)?;
            drop(guard);
            self.await_durable(self.log.wait_durable(&written))?;
            return Ok(Outcome {
                events: Vec::new(),
                first_position: None,
                note: decision.note,
                notifications: Vec::new(),
                repeated: false,
            });
        };
        let conversation = first.body.conversation();
        // Every write goes through this lock, so the log's version is the state's.
        let expected_version = self.log.version(&conversation)?;
        let request = AppendRequest {
            conversation,
            expected_version,
            events: decision.events,
        };
        let written = self.log.write_batch(std::slice::from_ref(&request))?;
        let first_position = written
            .outcomes
            .first()
            .map(|a| a.first_position)
            .unwrap_or(0);
        let mut per_event = Vec::with_capacity(request.events.len());
        {
            let mut state = write(&self.state);
            for (i, e) in request.events.iter().enumerate() {
                state.apply(e);
                per_event.push((first_position + i as u64, state.notifications_for(e)));
            }
        }
        drop(guard);
        self.await_durable(self.log.wait_durable(&written))?;
        let notifications = per_event
            .iter()
            .flat_map(|(_, n)| n.iter().cloned())
            .collect();
        self.publisher.publish(per_event);
        self.maybe_snapshot()?;
        Ok(Outcome {
            events: request.events,
            first_position: Some(first_position),
            note: decision.note,
            notifications,
            repeated: false,
        })
    }

    fn check_running(&self) -> Result<(), EngineError> {
        match self.stopped.get() {
            Some(cause) => Err(EngineError::Stopped(cause.clone())),
            None => Ok(()),
        }
    }

    /// Stops the engine for good, keeping the first cause (later commands report it too).
    fn stop(&self, cause: StoreError) -> EngineError {
        let _ = self.stopped.set(Arc::new(cause));
        match self.stopped.get() {
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

    fn maybe_snapshot(&self) -> Result<(), EngineError> {
        let Some(every) = self.options.snapshot_every_events else {
            return Ok(());
        };
        let state = read(&self.state);
        let position = state.events_applied();
        let last = self.last_snapshot_at.load(Ordering::SeqCst);
        if position < last.saturating_add(every) {
            return Ok(());
        }
        // One snapshot at a time: whoever moves the mark takes it.
        if self
            .last_snapshot_at
            .compare_exchange(last, position, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            self.log.save_snapshot(position, &state)?;
        }
        Ok(())
    }

    /// Stores a snapshot of the projections now.
    pub fn snapshot(&self) -> Result<u64, EngineError> {
        let state = read(&self.state);
        let position = state.events_applied();
        self.log.save_snapshot(position, &state)?;
        self.last_snapshot_at.store(position, Ordering::SeqCst);
        Ok(position)
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

    /// Runs `f` on the current projections (a read lock: never waits for a disk flush).
    pub fn with_state<T>(&self, f: impl FnOnce(&State, &Policy) -> T) -> T {
        f(&read(&self.state), &read(&self.policy))
    }

    /// Number of events in the log.
    pub fn head(&self) -> u64 {
        self.log.head()
    }

    /// The log underneath, for inspection and export.
    pub fn log(&self) -> &EventLog<B> {
        &self.log
    }

    /// Makes every append so far durable, whatever the durability option.
    pub fn flush(&self) -> Result<(), EngineError> {
        Ok(self.log.flush()?)
    }

    /// Live notifications from now on. Returns the position the subscription starts at: every
    /// event from it on is delivered, in log order, once durable.
    ///
    /// ```
    /// # use receipt_engine::*;
    /// let engine = Engine::in_memory(EngineOptions::default().with_policy(Policy::all_receipts_on()))?;
    /// let (ann, bob) = (UserId::new("ann")?, UserId::new("bob")?);
    /// let chat = ConversationId::direct(ann.clone(), bob.clone())?;
    /// let (from, live) = engine.subscribe();
    /// let m = MessageId(uuid::Uuid::now_v7());
    /// engine.send_message(&chat, m, &ann)?;
    /// engine.ack_message_read(m, &bob)?;
    /// let told: Vec<Positioned> = live.try_iter().collect();
    /// assert!(told.iter().all(|n| n.position >= from));
    /// assert!(told.iter().any(|n| n.notification.to == ann)); // onMessagesRead
    /// // After a restart, catch up from the last position handled:
    /// assert_eq!(engine.notifications_since(from)?, told);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subscribe(&self) -> (u64, Receiver<Positioned>) {
        self.publisher.subscribe()
    }

    /// Notifications of the durable events at positions `from..` (up to what has been published),
    /// recomputed from the log in one pass. A consumer that restarts resumes with the position
    /// after the last one it handled; to then follow live, subscribe first and skip positions
    /// already seen.
    pub fn notifications_since(&self, from: u64) -> Result<Vec<Positioned>, EngineError> {
        let upto = self.publisher.published_upto();
        let from = from.min(upto);
        let (start, mut state) = self.snapshot_at_or_before(from);
        let mut out = Vec::new();
        self.log.replay_range(start, upto, |e| {
            state.apply(&e.event);
            if e.position >= from {
                out.extend(
                    state
                        .notifications_for(&e.event)
                        .into_iter()
                        .map(|notification| Positioned {
                            position: e.position,
                            notification,
                        }),
                );
            }
        })?;
        Ok(out)
    }

    /// Time travel: the projections as they were when the log held `position` events.
    ///
    /// ```
    /// # use receipt_engine::*;
    /// let engine = Engine::in_memory(EngineOptions::default())?;
    /// let (ann, bob) = (UserId::new("ann")?, UserId::new("bob")?);
    /// let chat = ConversationId::direct(ann.clone(), bob.clone())?;
    /// engine.send_message(&chat, MessageId(uuid::Uuid::now_v7()), &ann)?;
    /// engine.mark_conversation_read(&chat, &bob)?;
    /// assert_eq!(engine.unread_count(&bob, &chat), 0);
    /// // As it was after the first event (the message, unread):
    /// assert_eq!(engine.state_at(1)?.unread_count(&bob, &chat), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn state_at(&self, position: u64) -> Result<State, EngineError> {
        self.state_before(position.min(self.log.head()))
    }

    /// The state after folding events `[0, position)`: from the snapshot when it is not past
    /// `position`, else from the start, reading no chunk past `position`.
    fn state_before(&self, position: u64) -> Result<State, EngineError> {
        let (start, mut state) = self.snapshot_at_or_before(position);
        self.log
            .replay_range(start, position, |e| state.apply(&e.event))?;
        Ok(state)
    }

    /// The stored snapshot if it covers no more than `position` events, else an empty state.
    fn snapshot_at_or_before(&self, position: u64) -> (u64, State) {
        match self.log.load_snapshot() {
            Some((p, s)) if p <= position => (p, s),
            _ => (0, State::new()),
        }
    }
}
