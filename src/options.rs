//! How an [`crate::Engine`] is opened: policy, durability, snapshots, clock, progress reports.

use receipt_domain::Policy;
use receipt_store::{Durability, LogOfRecord};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Where command timestamps come from. The domain never reads a clock; the engine asks this.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        // A clock before 1970 is a misconfigured machine; count it as time zero.
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock tests move by hand.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock that reads `now_ms` until moved.
    pub fn new(now_ms: u64) -> Self {
        Self(AtomicU64::new(now_ms))
    }

    /// Sets the time.
    pub fn set(&self, now_ms: u64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }

    /// Moves the time forward.
    pub fn advance(&self, by_ms: u64) {
        self.0.fetch_add(by_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Replay progress while opening or rebuilding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Events folded so far (counting those covered by the snapshot).
    pub done: u64,
    /// Events in the log.
    pub total: u64,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// The default memory budget of the partition cache: 256 MiB.
pub const DEFAULT_MEMORY_BUDGET_BYTES: usize = 256 << 20;

/// How an engine is opened. `EngineOptions::default()` is the seed's policy, group commit,
/// a checkpoint every 100,000 events, a 256 MiB memory budget and the system clock; the `with_` methods change one thing
/// each. Non-exhaustive, so options can be added without breaking callers.
#[derive(Clone)]
#[non_exhaustive]
pub struct EngineOptions {
    /// The rules commands are decided with (changeable later with `Engine::set_policy`).
    pub policy: Policy,
    /// When an append's events reach the disk.
    pub durability: Durability,
    /// Write a checkpoint (what changed since the last one) each time this many events were
    /// appended; `None` checkpoints only when asked (`Engine::checkpoint`) or when the dirty
    /// summaries outgrow a quarter of the budget. Opening folds the log after the last one.
    pub checkpoint_every_events: Option<u64>,
    /// The memory the engine aims to stay within. On sled (`Engine::open`) a quarter of it is
    /// sled's page cache and the rest the partition cache; in memory, all of it is the
    /// partition cache. Past it, least recently used conversations are evicted (and reloaded
    /// from their checkpoint and stream when used again).
    pub memory_budget_bytes: usize,
    /// Where command timestamps come from.
    pub clock: Arc<dyn Clock>,
    /// Called during replay, every `PROGRESS_EVERY_EVENTS` events and at the end.
    pub on_progress: Option<ProgressFn>,
    /// A log of record outside this process (NATS JetStream: `receipt_jetstream::open_engine`
    /// sets it) that each decision is appended to before the engine's own log, which is then a
    /// replica of the partitions this process owns. `None` (the default): the engine's own log
    /// is the truth.
    pub log_of_record: Option<Arc<dyn LogOfRecord>>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            policy: Policy::default(),
            durability: Durability::GroupCommit,
            checkpoint_every_events: Some(100_000),
            memory_budget_bytes: DEFAULT_MEMORY_BUDGET_BYTES,
            clock: Arc::new(SystemClock),
            on_progress: None,
            log_of_record: None,
        }
    }
}

impl EngineOptions {
    /// Sets the policy.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the durability option.
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets the checkpoint interval in events (`None`: only when asked or when the dirty
    /// summaries outgrow a quarter of the budget).
    pub fn with_checkpoint_every(mut self, events: Option<u64>) -> Self {
        self.checkpoint_every_events = events;
        self
    }

    /// Sets the partition cache's memory budget in bytes.
    pub fn with_memory_budget(mut self, bytes: usize) -> Self {
        self.memory_budget_bytes = bytes;
        self
    }

    /// Appends every decision to `log` before the engine's own log (see
    /// [`EngineOptions::log_of_record`]).
    pub fn with_log_of_record(mut self, log: Arc<dyn LogOfRecord>) -> Self {
        self.log_of_record = Some(log);
        self
    }

    /// Sets the replay progress callback.
    pub fn with_progress(mut self, f: ProgressFn) -> Self {
        self.on_progress = Some(f);
        self
    }
}
