//! The engine for tokio services (feature `tokio`). Commands wait for `fdatasync`, so they run
//! on tokio's blocking pool and never stall the runtime's worker threads; queries read memory
//! under a read lock and are answered in place through [`AsyncEngine::engine`](crate::asynchronous::AsyncEngine::engine); notifications
//! arrive on a bounded stream that never makes the engine wait.
//!
//! Overflow policy of [`Notifications`](crate::asynchronous::Notifications): when a subscriber falls `capacity` notifications
//! behind, its stream ends with [`Overflowed`], naming the position of the first notification
//! it did not receive. Nothing is dropped silently and no command ever waits for a slow
//! subscriber; the subscriber subscribes again and catches up with
//! [`Engine::notifications_since`] from that position, as after a restart. (An event can
//! notify several users: those of its notifications delivered before the overflow come again
//! in the catch-up, with the same position and addressee; skip them.)

use crate::publisher::{Offer, Sink};
pub use crate::Overflowed;
use crate::{Engine, EngineError, EngineOptions, Outcome, Positioned};
use receipt_domain::{Command, CommandKind};
use receipt_store::{Backend, SledBackend, StoreError};
use std::sync::Arc;

/// An [`Engine`] shared by async tasks. Cloning is cheap (one `Arc`).
#[derive(Debug)]
pub struct AsyncEngine<B: Backend = SledBackend> {
    engine: Arc<Engine<B>>,
}

impl<B: Backend> Clone for AsyncEngine<B> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
        }
    }
}

/// A blocking task that did not finish: its panic is resumed in the caller (as the blocking
/// call would have panicked there); a runtime shutting down is reported as an error.
fn joined<T>(result: Result<T, tokio::task::JoinError>) -> Result<T, EngineError> {
    match result {
        Ok(value) => Ok(value),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(EngineError::Store(StoreError::io(
            "tokio runtime",
            std::io::Error::other("the runtime shut down before the command finished"),
        ))),
    }
}

impl AsyncEngine<SledBackend> {
    /// [`Engine::open`] on the blocking pool (opening replays the log).
    pub async fn open(
        dir: impl AsRef<std::path::Path>,
        options: EngineOptions,
    ) -> Result<Self, EngineError> {
        let dir = dir.as_ref().to_path_buf();
        let engine =
            joined(tokio::task::spawn_blocking(move || Engine::open(dir, options)).await)??;
        Ok(Self::new(engine))
    }

    /// Closes the engine ([`Engine::close`]: its last checkpoint and flush) on the blocking
    /// pool, once this is its last handle. While other handles (clones) are alive it closes
    /// nothing and says so: the engine stays open for them, and closes when the last is
    /// dropped.
    pub async fn close(self) -> Result<(), EngineError> {
        match Arc::try_unwrap(self.engine) {
            Ok(engine) => joined(tokio::task::spawn_blocking(move || engine.close()).await)?,
            Err(_still_shared) => Err(EngineError::Store(StoreError::io(
                "AsyncEngine::close",
                std::io::Error::other("other handles of the engine are alive: drop them first"),
            ))),
        }
    }

    /// [`Engine::open_read_only`] on the blocking pool: answers queries, writes nothing, and
    /// refuses every command with `StoreError::ReadOnly`.
    pub async fn open_read_only(
        dir: impl AsRef<std::path::Path>,
        options: EngineOptions,
    ) -> Result<Self, EngineError> {
        let dir = dir.as_ref().to_path_buf();
        let engine = joined(
            tokio::task::spawn_blocking(move || Engine::open_read_only(dir, options)).await,
        )??;
        Ok(Self::new(engine))
    }
}

impl<B: Backend + Send + Sync + 'static> AsyncEngine<B> {
    /// Wraps an engine.
    pub fn new(engine: Engine<B>) -> Self {
        Self {
            engine: Arc::new(engine),
        }
    }

    /// The engine, for queries: they read memory and never wait for the disk, so they are
    /// fine to call on the runtime.
    pub fn engine(&self) -> &Engine<B> {
        &self.engine
    }

    /// [`Engine::execute`] on the blocking pool.
    pub async fn execute(&self, kind: CommandKind) -> Result<Outcome, EngineError> {
        let engine = self.engine.clone();
        joined(tokio::task::spawn_blocking(move || engine.execute(kind)).await)?
    }

    /// [`Engine::execute_command`] on the blocking pool.
    pub async fn execute_command(&self, command: Command) -> Result<Outcome, EngineError> {
        let engine = self.engine.clone();
        joined(tokio::task::spawn_blocking(move || engine.execute_command(command)).await)?
    }

    /// [`Engine::execute_batch`] on the blocking pool.
    pub async fn execute_batch(
        &self,
        commands: Vec<Command>,
    ) -> Result<Vec<Result<Outcome, EngineError>>, EngineError> {
        let engine = self.engine.clone();
        joined(tokio::task::spawn_blocking(move || engine.execute_batch(commands)).await)?
    }

    /// Live notifications from now on, at most `capacity` waiting (see the module's overflow
    /// policy). Returns the position the subscription starts at, like [`Engine::subscribe`].
    ///
    /// A subscription is an async channel the publisher writes to directly: it costs no
    /// thread, and once its [`Notifications`] is dropped it is released (at the next
    /// notification, or the next subscription, whichever comes first).
    pub fn subscribe(&self, capacity: usize) -> (u64, Notifications) {
        let (tx, rx) = tokio::sync::mpsc::channel(capacity.max(1));
        let (start, overflow) = self.engine.publisher().subscribe_sink(Box::new(tx));
        (start, Notifications::new(rx, overflow))
    }
}

impl<B: Backend> AsyncEngine<B> {
    /// Live notifications addressed to `user` from now on, at most `capacity` waiting (the
    /// module's overflow policy; catch up with [`Engine::user_notifications_since`]). Like
    /// [`Engine::subscribe_user`], publishing looks each notification's addressee up once.
    /// No thread: one per connected user is the intended use, by the hundred thousand.
    pub fn subscribe_user(
        &self,
        user: &receipt_domain::UserId,
        capacity: usize,
    ) -> (u64, Notifications) {
        let (tx, rx) = tokio::sync::mpsc::channel(capacity.max(1));
        let (start, overflow) = self
            .engine
            .publisher()
            .subscribe_user_sink(user, Box::new(tx));
        (start, Notifications::new(rx, overflow))
    }
}

impl Sink for tokio::sync::mpsc::Sender<Positioned> {
    fn offer(&self, p: Positioned) -> Offer {
        match self.try_send(p) {
            Ok(()) => Offer::Delivered,
            Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => Offer::Full,
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => Offer::Gone,
        }
    }

    fn is_gone(&self) -> bool {
        self.is_closed()
    }
}

/// Notifications for an async subscriber, in log order, each once its event is durable.
#[derive(Debug)]
pub struct Notifications {
    rx: tokio::sync::mpsc::Receiver<Positioned>,
    overflow: Arc<std::sync::OnceLock<Overflowed>>,
    reported: bool,
}

impl Notifications {
    fn new(
        rx: tokio::sync::mpsc::Receiver<Positioned>,
        overflow: Arc<std::sync::OnceLock<Overflowed>>,
    ) -> Self {
        Self {
            rx,
            overflow,
            reported: false,
        }
    }

    /// The next notification; `Some(Err(Overflowed))` once, after the last one delivered, if
    /// the subscriber fell behind; `None` when the engine is gone.
    pub async fn next(&mut self) -> Option<Result<Positioned, Overflowed>> {
        if let Some(n) = self.rx.recv().await {
            return Some(Ok(n));
        }
        // The channel ended: the publisher dropped it after an overflow (said once), or the
        // engine is gone.
        match self.overflow.get() {
            Some(o) if !self.reported => {
                self.reported = true;
                Some(Err(*o))
            }
            _ => None,
        }
    }
}
