//! What lets commands on different conversations run at once: a lock per conversation (striped),
//! the fold gate a checkpoint closes for its pause, and the reservations that keep a message id
//! unique across conversations while two sends of it are decided in parallel.

use super::lock;
use receipt_domain::{ConversationId, MessageId};
use receipt_store::{Backend, EventLog, StoreError};
use rustc_hash::{FxHashMap, FxHasher};
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, MutexGuard};

/// Conversations share this many locks. Two conversations on one stripe only wait for each
/// other; with 1,024 stripes, 16 writers on distinct conversations collide with probability
/// about 11% (birthday bound 16·15/2/1024), and then only pairwise.
const STRIPES: usize = 1_024;

/// One lock per stripe of conversations. A command holds the lock of the conversation it
/// concerns from its duplicate check to its fold, so the partition it decided against is the
/// one it folds into and the stream version it expects is the log's.
pub(crate) struct ConversationLocks {
    stripes: Vec<Mutex<()>>,
}

/// The held locks of one or more conversations.
pub(crate) struct Held<'a> {
    _guards: Vec<MutexGuard<'a, ()>>,
}

impl ConversationLocks {
    pub(crate) fn new() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    fn stripe(c: &ConversationId) -> usize {
        let mut h = FxHasher::default();
        c.hash(&mut h);
        // The remainder is below STRIPES, so it fits a usize on every platform.
        (h.finish() % STRIPES as u64) as usize
    }

    /// Locks the conversations given (none for a command that concerns nothing known). Stripes
    /// are taken in ascending order, so two batches never wait for each other in a cycle.
    pub(crate) fn lock<'a>(
        &'a self,
        conversations: impl IntoIterator<Item = &'a ConversationId>,
    ) -> Held<'a> {
        let mut stripes: Vec<usize> = conversations.into_iter().map(Self::stripe).collect();
        stripes.sort_unstable();
        stripes.dedup();
        Held {
            _guards: stripes
                .into_iter()
                .map(|s| lock(&self.stripes[s]))
                .collect(),
        }
    }
}

/// What [`MessageReservations::reserve`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reservation {
    /// Sent, or being sent, in another conversation: the send must be refused.
    InUse,
    /// Reserved now: released by whoever reserved it.
    Reserved,
    /// Already sent or reserved in this conversation: the domain judges the repeated send.
    Here,
}

/// Message ids sent by decisions not yet in the log's message index. A send checks the index
/// and these together, under one lock, so two sends of one id to two conversations decided at
/// the same time cannot both be accepted.
#[derive(Default)]
pub(crate) struct MessageReservations {
    reserved: Mutex<FxHashMap<MessageId, ConversationId>>,
}

impl MessageReservations {
    /// Reserves `message` for a send in `conversation`, unless it is sent (or being sent) in
    /// another one.
    pub(crate) fn reserve<B: Backend>(
        &self,
        log: &EventLog<B>,
        message: MessageId,
        conversation: &ConversationId,
    ) -> Result<Reservation, StoreError> {
        let here = |c: &ConversationId| {
            if c == conversation {
                Reservation::Here
            } else {
                Reservation::InUse
            }
        };
        let mut reserved = lock(&self.reserved);
        if let Some(c) = reserved.get(&message) {
            return Ok(here(c));
        }
        // Read under the lock: a writer indexes the message before it releases its
        // reservation, so one of the two is always seen.
        match log.message_conversation(message)? {
            Some(c) => Ok(here(&c)),
            None => {
                reserved.insert(message, conversation.clone());
                Ok(Reservation::Reserved)
            }
        }
    }

    fn release(&self, messages: &[MessageId]) {
        let mut reserved = lock(&self.reserved);
        for m in messages {
            reserved.remove(m);
        }
    }
}

/// The reservations one command or batch made; released when dropped, i.e. once its write is
/// in the log's index, or failed, or never happened.
pub(crate) struct Reserved<'a> {
    by: &'a MessageReservations,
    pub(crate) messages: Vec<MessageId>,
}

impl<'a> Reserved<'a> {
    pub(crate) fn new(by: &'a MessageReservations) -> Self {
        Self {
            by,
            messages: Vec::new(),
        }
    }

    /// Releases one reservation early (its send was refused or decided into nothing).
    pub(crate) fn release(&mut self, message: MessageId) {
        if let Some(i) = self.messages.iter().position(|m| *m == message) {
            self.messages.swap_remove(i);
            self.by.release(&[message]);
        }
    }
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        self.by.release(&self.messages);
    }
}
