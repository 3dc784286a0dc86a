//! Publishes notifications to live subscribers in log order, only once their events are
//! durable. Commands can finish their durability wait out of order; the sequencer holds a
//! later position back until every earlier one has arrived, so a subscriber that remembers the
//! last position it saw can resume from there with nothing missed and nothing repeated.

use receipt_domain::{Notification, UserId};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender, TrySendError};
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

/// One user's subscriber: a bounded channel, and where it overflowed if it did.
struct UserSubscriber {
    tx: SyncSender<Positioned>,
    overflow: Arc<OnceLock<Overflowed>>,
}

struct Inner {
    /// Every event before this position has been published.
    published_upto: u64,
    /// Notifications of durable events waiting for an earlier position to arrive.
    waiting: BTreeMap<u64, Vec<Notification>>,
    subscribers: Vec<Sender<Positioned>>,
    /// Subscribers to one user's notifications, by user: a notification is looked up by its
    /// addressee, never offered to every subscriber.
    by_user: FxHashMap<UserId, Vec<UserSubscriber>>,
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

    pub(crate) fn subscribe(&self) -> (u64, Receiver<Positioned>) {
        let (tx, rx) = channel();
        let mut inner = self.inner();
        inner.subscribers.push(tx);
        (inner.published_upto, rx)
    }

    /// A bounded subscription to `user`'s notifications (see [`crate::UserNotifications`]).
    pub(crate) fn subscribe_user(
        &self,
        user: &UserId,
        capacity: usize,
    ) -> (u64, Receiver<Positioned>, Arc<OnceLock<Overflowed>>) {
        let (tx, rx) = sync_channel(capacity.max(1));
        let overflow = Arc::new(OnceLock::new());
        let mut inner = self.inner();
        inner
            .by_user
            .entry(user.clone())
            .or_default()
            .push(UserSubscriber {
                tx,
                overflow: overflow.clone(),
            });
        (inner.published_upto, rx, overflow)
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
                    subs.retain(|s| match s.tx.try_send(p.clone()) {
                        Ok(()) => true,
                        Err(TrySendError::Full(_)) => {
                            let _ = s.overflow.set(Overflowed {
                                resume_from: p.position,
                            });
                            false
                        }
                        Err(TrySendError::Disconnected(_)) => false,
                    });
                    if subs.is_empty() {
                        inner.by_user.remove(&p.notification.to);
                    }
                }
                // A dropped receiver unsubscribes.
                inner.subscribers.retain(|s| s.send(p.clone()).is_ok());
            }
            inner.published_upto = next + 1;
        }
    }
}
