//! Publishes notifications to live subscribers in log order, only once their events are
//! durable. Commands can finish their durability wait out of order; the sequencer holds a
//! later position back until every earlier one has arrived, so a subscriber that remembers the
//! last position it saw can resume from there with nothing missed and nothing repeated.

use receipt_domain::Notification;
use std::collections::BTreeMap;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Mutex, PoisonError};

/// A notification with the log position of the event it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Positioned {
    /// Log position of the event the notification comes from.
    pub position: u64,
    /// The notification itself, with its addressee.
    pub notification: Notification,
}

struct Inner {
    /// Every event before this position has been published.
    published_upto: u64,
    /// Notifications of durable events waiting for an earlier position to arrive.
    waiting: BTreeMap<u64, Vec<Notification>>,
    subscribers: Vec<Sender<Positioned>>,
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
                // A dropped receiver unsubscribes.
                inner.subscribers.retain(|s| s.send(p.clone()).is_ok());
            }
            inner.published_upto = next + 1;
        }
    }
}
