//! Publishes notifications to live subscribers in log order, only once their events are
//! durable. Commands can finish their durability wait out of order; the sequencer holds a
//! later position back until every earlier one has arrived, so a subscriber that remembers the
//! last position it saw can resume from there with nothing missed and nothing repeated.

use receipt_domain::{Notification, UserId};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// A notification with the log position of the event it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Positioned {
    /// Log position of the event the notification comes from.
    pub position: u64,
    /// The notification itself, with its addressee.
    pub notification: Notification,
}

/// A subscriber fell too far behind: it missed notifications from `resume_from` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the subscriber fell behind; catch up with notifications_since({resume_from})")]
pub struct Overflowed {
    /// The position of the first notification not delivered.
    pub resume_from: u64,
}

/// What a subscriber's channel did with one notification.
pub(crate) enum Offer {
    Delivered,
    /// The subscriber is `capacity` behind: it is told where it stopped and dropped.
    Full,
    /// The receiver is gone: the subscriber is dropped.
    Gone,
}

/// A subscriber's channel, blocking (std) or async (tokio, in asynchronous.rs): offered each
/// notification, never waited on. No subscriber costs a thread.
pub(crate) trait Sink: Send {
    /// Hands `p` over without waiting.
    fn offer(&self, p: Positioned) -> Offer;
    /// The receiver is known to be gone (an async channel knows without an offer).
    fn is_gone(&self) -> bool {
        false
    }
}

impl Sink for SyncSender<Positioned> {
    fn offer(&self, p: Positioned) -> Offer {
        match self.try_send(p) {
            Ok(()) => Offer::Delivered,
            Err(TrySendError::Full(_)) => Offer::Full,
            Err(TrySendError::Disconnected(_)) => Offer::Gone,
        }
    }
}

/// A subscriber: its channel, and where it overflowed if it did.
struct Subscriber {
    sink: Box<dyn Sink>,
    overflow: Arc<OnceLock<Overflowed>>,
}

impl Subscriber {
    fn new(sink: Box<dyn Sink>) -> (Self, Arc<OnceLock<Overflowed>>) {
        let overflow = Arc::new(OnceLock::new());
        let s = Self {
            sink,
            overflow: overflow.clone(),
        };
        (s, overflow)
    }

    /// Offers `p`; `false` when the subscriber is to be dropped (full: told where it stopped;
    /// or gone).
    fn keep_after(&self, p: &Positioned) -> bool {
        match self.sink.offer(p.clone()) {
            Offer::Delivered => true,
            Offer::Full => {
                let _ = self.overflow.set(Overflowed {
                    resume_from: p.position,
                });
                false
            }
            Offer::Gone => false,
        }
    }
}

struct Inner {
    /// Every event before this position has been published.
    published_upto: u64,
    /// Notifications of durable events waiting for an earlier position to arrive.
    waiting: BTreeMap<u64, Vec<Notification>>,
    subscribers: Vec<Subscriber>,
    /// Subscribers to one user's notifications, by user: a notification is looked up by its
    /// addressee, never offered to every subscriber.
    by_user: FxHashMap<UserId, Vec<Subscriber>>,
}

pub(crate) struct Publisher {
    inner: Mutex<Inner>,
}

impl Publisher {
    pub(crate) fn starting_at(position: u64) -> Self {
        Self {
            inner: Mutex::new(Inner {
                published_upto: position,
                waiting: BTreeMap::new(),
                subscribers: Vec::new(),
                by_user: FxHashMap::default(),
            }),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Publishing never leaves `Inner` half-updated across a panic point.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A bounded subscription to every notification (see [`crate::Subscription`]).
    pub(crate) fn subscribe(
        &self,
        capacity: usize,
    ) -> (u64, Receiver<Positioned>, Arc<OnceLock<Overflowed>>) {
        let (tx, rx) = sync_channel(capacity.max(1));
        let (start, overflow) = self.subscribe_sink(Box::new(tx));
        (start, rx, overflow)
    }

    /// A subscription to every notification through `sink`.
    pub(crate) fn subscribe_sink(&self, sink: Box<dyn Sink>) -> (u64, Arc<OnceLock<Overflowed>>) {
        let (subscriber, overflow) = Subscriber::new(sink);
        let mut inner = self.inner();
        // Subscribers known to be gone go now, not only at the next notification.
        inner.subscribers.retain(|s| !s.sink.is_gone());
        inner.subscribers.push(subscriber);
        (inner.published_upto, overflow)
    }

    /// A bounded subscription to `user`'s notifications (see [`crate::Subscription`]).
    pub(crate) fn subscribe_user(
        &self,
        user: &UserId,
        capacity: usize,
    ) -> (u64, Receiver<Positioned>, Arc<OnceLock<Overflowed>>) {
        let (tx, rx) = sync_channel(capacity.max(1));
        let (start, overflow) = self.subscribe_user_sink(user, Box::new(tx));
        (start, rx, overflow)
    }

    /// A subscription to `user`'s notifications through `sink`.
    pub(crate) fn subscribe_user_sink(
        &self,
        user: &UserId,
        sink: Box<dyn Sink>,
    ) -> (u64, Arc<OnceLock<Overflowed>>) {
        let (subscriber, overflow) = Subscriber::new(sink);
        let mut inner = self.inner();
        let subs = inner.by_user.entry(user.clone()).or_default();
        subs.retain(|s| !s.sink.is_gone());
        subs.push(subscriber);
        (inner.published_upto, overflow)
    }

    pub(crate) fn published_upto(&self) -> u64 {
        self.inner().published_upto
    }

    /// Hands over the notifications of durable events, one entry per event position.
    pub(crate) fn publish(&self, events: Vec<(u64, Vec<Notification>)>) {
        let mut inner = self.inner();
        inner.waiting.extend(events);
        loop {
            let next = inner.published_upto;
            let Some(notifications) = inner.waiting.remove(&next) else {
                break;
            };
            for notification in notifications {
                let p = Positioned {
                    position: next,
                    notification,
                };
                if let Some(subs) = inner.by_user.get_mut(&p.notification.to) {
                    // Never waits: a full subscriber is told where it stopped and dropped; a
                    // dropped receiver unsubscribes.
                    subs.retain(|s| s.keep_after(&p));
                    if subs.is_empty() {
                        inner.by_user.remove(&p.notification.to);
                    }
                }
                inner.subscribers.retain(|s| s.keep_after(&p));
            }
            inner.published_upto = next + 1;
        }
    }
}
