//! How an [`crate::Engine`] is opened: policy, durability, snapshots, clock, progress reports.

use receipt_domain::Policy;
use receipt_store::Durability;
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
    pub fn new(now_ms: u64) -> Self {
        Self(AtomicU64::new(now_ms))
    }

    pub fn set(&self, now_ms: u64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }

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

pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

#[derive(Clone)]
pub struct EngineOptions {
    pub policy: Policy,
    pub durability: Durability,
    /// Store a snapshot of the projections each time this many events were appended since
    /// the last one; `None` never snapshots (opening then replays the whole log).
    pub snapshot_every_events: Option<u64>,
    pub clock: Arc<dyn Clock>,
    /// Called during replay, every `PROGRESS_EVERY_EVENTS` events and at the end.
    pub on_progress: Option<ProgressFn>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            policy: Policy::default(),
            durability: Durability::GroupCommit,
            snapshot_every_events: Some(100_000),
            clock: Arc::new(SystemClock),
            on_progress: None,
        }
    }
}

impl EngineOptions {
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    pub fn with_snapshot_every(mut self, events: Option<u64>) -> Self {
        self.snapshot_every_events = events;
        self
    }

    pub fn with_progress(mut self, f: ProgressFn) -> Self {
        self.on_progress = Some(f);
        self
    }
}
