//! One user's notifications: what a service pushes to that user's sockets, without filtering
//! every event for every socket. Bounded, and never makes the engine wait: a subscriber that
//! falls `capacity` notifications behind is told where it stopped ([`Overflowed`]) and catches
//! up with [`Engine::user_notifications_since`], as after a restart.

use crate::engine::Engine;
use crate::error::EngineError;
use crate::publisher::{Overflowed, Positioned};
use receipt_domain::UserId;
use receipt_store::Backend;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A subscription to notifications ([`Engine::subscribe`]: all of them; [`Engine::subscribe_user`]:
/// one user's, such as the sender's receipts and the reader's other devices' read-state
/// changes), in log order, each once its event is durable. Bounded: a subscriber that falls
/// `capacity` behind gets [`Overflowed`] once, after the last notification that fit.
#[derive(Debug)]
pub struct Subscription {
    rx: Receiver<Positioned>,
    overflow: Arc<OnceLock<Overflowed>>,
    reported: bool,
}

/// The name [`Engine::subscribe_user`]'s subscription had first.
pub type UserNotifications = Subscription;

impl Iterator for Subscription {
    type Item = Result<Positioned, Overflowed>;

    /// Waits for the next notification ([`Subscription::recv`]).
    fn next(&mut self) -> Option<Self::Item> {
        self.recv()
    }
}

impl Subscription {
    pub(crate) fn new(rx: Receiver<Positioned>, overflow: Arc<OnceLock<Overflowed>>) -> Self {
        Self {
            rx,
            overflow,
            reported: false,
        }
    }

    /// Every notification waiting now, in order, without waiting (then the overflow, if the
    /// stream ended with one).
    pub fn try_iter(&mut self) -> impl Iterator<Item = Result<Positioned, Overflowed>> + '_ {
        std::iter::from_fn(move || self.try_recv())
    }

    /// After the channel ended: the overflow, said once, or `None` (the engine is gone).
    fn ended(&mut self) -> Option<Result<Positioned, Overflowed>> {
        match self.overflow.get() {
            Some(o) if !self.reported => {
                self.reported = true;
                Some(Err(*o))
            }
            _ => None,
        }
    }

    /// Waits for the next notification; `Some(Err(Overflowed))` once, after the last one
    /// delivered, if the subscriber fell behind; `None` when the engine is gone.
    pub fn recv(&mut self) -> Option<Result<Positioned, Overflowed>> {
        match self.rx.recv() {
            Ok(n) => Some(Ok(n)),
            Err(_) => self.ended(),
        }
    }

    /// The next notification if one is waiting (`None`: none yet, or the stream ended and
    /// its overflow, if any, was reported).
    pub fn try_recv(&mut self) -> Option<Result<Positioned, Overflowed>> {
        match self.rx.try_recv() {
            Ok(n) => Some(Ok(n)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => self.ended(),
        }
    }

    /// Like [`Subscription::recv`], waiting at most `timeout` (`None` when nothing came).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Option<Result<Positioned, Overflowed>> {
        match self.rx.recv_timeout(timeout) {
            Ok(n) => Some(Ok(n)),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => self.ended(),
        }
    }
}

impl<B: Backend> Engine<B> {
    /// Live notifications addressed to `user` from now on, at most `capacity` waiting. Returns
    /// the position the subscription starts at: every notification to `user` from it on is
    /// delivered, in log order, once durable, until the subscriber falls `capacity` behind.
    /// Publishing costs one lookup per notification, whatever the number of subscribers.
    ///
    /// ```
    /// # use receipt_engine::*;
    /// let engine = Engine::in_memory(EngineOptions::default().with_policy(Policy::all_receipts_on()))?;
    /// let (ann, bob) = (UserId::new("ann")?, UserId::new("bob")?);
    /// let chat = ConversationId::direct(ann.clone(), bob.clone())?;
    /// let (_, mut to_ann) = engine.subscribe_user(&ann, 100);
    /// let m = MessageId(uuid::Uuid::now_v7());
    /// engine.send_message(&chat, m, &ann)?;
    /// engine.ack_message_read(m, &bob)?; // tells ann (onMessagesRead) and bob's other devices
    /// let first = to_ann.try_recv().unwrap()?;
    /// assert_eq!(first.notification.to, ann);
    /// assert!(to_ann.try_recv().is_none(), "bob's notification is not ann's");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subscribe_user(&self, user: &UserId, capacity: usize) -> (u64, Subscription) {
        let (start, rx, overflow) = self.publisher().subscribe_user(user, capacity);
        (
            start,
            Subscription {
                rx,
                overflow,
                reported: false,
            },
        )
    }

    /// The notifications addressed to `user` from log position `from` up to what has been
    /// published: how a user's subscriber catches up after an overflow or a restart.
    pub fn user_notifications_since(
        &self,
        user: &UserId,
        from: u64,
    ) -> Result<Vec<Positioned>, EngineError> {
        let mut all = self.notifications_since(from)?;
        all.retain(|n| &n.notification.to == user);
        Ok(all)
    }
}
