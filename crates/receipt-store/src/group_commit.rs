//! Group commit: appenders that need durability share flushes. The first one to arrive flushes
//! everything written so far; those arriving meanwhile wait and are covered by the next flush, so
//! N concurrent appenders pay about one flush instead of N.

use crate::error::StoreError;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Longest a flush leader waits for appenders that are mid-write.
const GATHER_WAIT: Duration = Duration::from_micros(200);

#[derive(Default)]
struct Progress {
    /// Every write with a sequence number up to this one is durable.
    durable_seq: u64,
    flushing: bool,
}

#[derive(Default)]
pub(crate) struct GroupCommit {
    progress: Mutex<Progress>,
    flushed: Condvar,
}

impl GroupCommit {
    /// Returns once write `seq` is durable. `commit` makes everything written so far durable
    /// and returns the newest write number it covers.
    pub(crate) fn wait_durable(
        &self,
        seq: u64,
        in_flight: impl Fn() -> u64,
        commit: impl Fn() -> Result<u64, StoreError>,
    ) -> Result<(), StoreError> {
        // Poisoning only means another appender panicked mid-wait; the counters stay valid.
        let mut p = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if p.durable_seq >= seq {
                return Ok(());
            }
            if !p.flushing {
                p.flushing = true;
                drop(p);
                // Appenders already on their way in ride this flush if they land within a
                // short, bounded wait: bigger groups, fewer flushes.
                let until = Instant::now() + GATHER_WAIT;
                while in_flight() > 0 && Instant::now() < until {
                    std::thread::yield_now();
                }
                let result = commit();
                p = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
                p.flushing = false;
                if let Ok(covered) = result {
                    p.durable_seq = p.durable_seq.max(covered);
                }
                self.flushed.notify_all();
                result?;
                continue;
            }
            p = self.flushed.wait(p).unwrap_or_else(PoisonError::into_inner);
        }
    }
}
