//! Checkpoints, off the command path: what the engine shares with its checkpoint thread, the
//! checkpoint itself, and the thread that runs the ones commands ask for.

use super::locks::{ConversationLocks, MessageReservations};
use super::{lock, write, CheckpointReport, Engine};
use crate::error::EngineError;
use crate::projections::Projections;
use receipt_store::{Backend, EventLog, StoreError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Instant;

/// The part of an engine its checkpoint thread needs too.
pub(crate) struct Shared<B: Backend> {
    pub(crate) log: EventLog<B>,
    /// The partition cache. Commands hold it while they decide and while they fold; queries
    /// while they read (and load a cold partition); checkpoints only while they reference what
    /// changed.
    pub(crate) projections: Mutex<Projections>,
    /// Held by a command from its duplicate check to its fold.
    pub(crate) conversation_locks: ConversationLocks,
    /// Held shared by every command from its log write to its fold, and exclusively by a
    /// checkpoint's pause: the head a checkpoint records has every event before it folded.
    pub(crate) fold_gate: RwLock<()>,
    /// Message ids of sends decided and not yet indexed by the log.
    pub(crate) reservations: MessageReservations,
    /// Held by a command that may hold a read ack for a message not sent yet, from its
    /// decision to its fold: the store-wide count it is decided against must include every
    /// such ack decided before it, whatever its conversation. (Other commands only lower the
    /// count, which makes a concurrent check stricter, never wrong.) Taken after the
    /// conversation locks, before anything else.
    pub(crate) early_ack_admission: Mutex<()>,
    /// One checkpoint at a time.
    pub(crate) checkpoint_lock: Mutex<()>,
    pub(crate) last_checkpoint_at: AtomicU64,
    /// Set once, by the first write that could not be made durable (or, in a batch, written).
    pub(crate) stopped: OnceLock<Arc<StoreError>>,
}

impl<B: Backend> Shared<B> {
    /// Writes a checkpoint: every partition, header and summary changed since the last one,
    /// and the marker saying how many events they cover.
    pub(crate) fn checkpoint(&self) -> Result<CheckpointReport, EngineError> {
        let _one = self
            .checkpoint_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(cause) = self.stopped.get() {
            return Err(EngineError::Stopped(cause.clone()));
        }
        self.log.refuse_writes()?;
        let started = Instant::now();
        let (write, marker) = {
            // No command between its write and its fold while what changed is taken and the
            // head read: the marker is the head those changes reflect.
            let _folds = write(&self.fold_gate);
            let mut projections = lock(&self.projections);
            let marker = self.log.head();
            let write = projections.take_checkpoint(marker);
            let pause_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            let stats = &mut projections.stats;
            stats.checkpoints += 1;
            stats.longest_checkpoint_pause_us = stats.longest_checkpoint_pause_us.max(pause_us);
            (write, marker)
        };
        let pause = started.elapsed();
        let written = self.log.write_checkpoint(&write);
        {
            let mut projections = lock(&self.projections);
            if written.is_err() {
                projections.restore_dirty(&write);
            }
            projections.checkpoint_finished();
        }
        let written = written?;
        self.last_checkpoint_at.store(marker, Ordering::SeqCst);
        let report = CheckpointReport {
            position: marker,
            partitions: write.partitions.len(),
            entries: written.entries,
            bytes: written.bytes,
            pause,
            total: started.elapsed(),
        };
        tracing::debug!(?report, "checkpoint written");
        Ok(report)
    }
}

/// The thread that writes the checkpoints commands ask for, so no command waits for one
/// beyond its pause.
pub(crate) struct Checkpointer {
    requests: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread.
    pub(crate) fn start<B: Backend>(shared: Arc<Shared<B>>) -> Self {
        // One request pending at most: more would only repeat it.
        let (requests, pending) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("receipts-checkpoint".into())
            .spawn(move || {
                for () in pending {
                    if let Err(e) = shared.checkpoint() {
                        // A cache not written loses nothing: what changed stays marked, and
                        // the next request (or the next open's tail) covers it.
                        tracing::warn!(error = %e, "background checkpoint failed");
                    }
                }
            });
        match thread {
            Ok(thread) => Self {
                requests: Some(requests),
                thread: Some(thread),
            },
            Err(e) => {
                // No thread: checkpoints then happen only on request and at close.
                tracing::warn!(error = %e, "no checkpoint thread");
                Self {
                    requests: None,
                    thread: None,
                }
            }
        }
    }

    /// No thread: for an engine that never checkpoints (opened read-only).
    pub(crate) fn none() -> Self {
        Self {
            requests: None,
            thread: None,
        }
    }

    /// Asks for a checkpoint; never waits.
    pub(crate) fn request(&self) {
        if let Some(r) = &self.requests {
            match r.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
            }
        }
    }

    /// Stops the thread once the checkpoint it is writing, if any, is done.
    pub(crate) fn stop(&mut self) {
        self.requests = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl<B: Backend> Engine<B> {
    /// Closes the engine and says whether everything was put away: stops the checkpoint
    /// thread, checkpoints what changed (when the engine checkpoints: not with
    /// `checkpoint_every_events: None`, nor read-only), then makes every append durable.
    /// Returns the first failure; an engine that had stopped reports why
    /// ([`EngineError::Stopped`]). Dropping an engine does the same work but can only log a
    /// failure.
    pub fn close(mut self) -> Result<(), EngineError> {
        let closed = self.put_away();
        self.closed = true;
        closed
    }

    /// The work of a clean close (see [`Engine::close`]).
    fn put_away(&mut self) -> Result<(), EngineError> {
        self.checkpointer.stop();
        if let Some(cause) = self.shared.stopped.get() {
            return Err(EngineError::Stopped(cause.clone()));
        }
        let dirty = lock(&self.shared.projections).has_dirty()
            || self.shared.log.head() > self.shared.last_checkpoint_at.load(Ordering::SeqCst);
        let wanted =
            self.options.checkpoint_every_events.is_some() && !self.shared.log.is_read_only();
        if wanted && dirty {
            self.checkpoint()?;
        }
        Ok(self.shared.log.flush()?)
    }
}

impl<B: Backend> Drop for Engine<B> {
    /// Unless [`Engine::close`] did it: a clean close (its failures logged), so the next open
    /// has no tail to fold; the log's own drop then flushes once more, which finds nothing.
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        match self.put_away() {
            Ok(()) | Err(EngineError::Stopped(_)) => {}
            Err(e) => {
                tracing::warn!(error = %e, "close failed; the next open folds the tail");
            }
        }
    }
}
