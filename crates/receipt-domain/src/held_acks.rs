//! How many read acks are held for messages not sent yet, per conversation, across a whole
//! store: what `Policy::max_early_acks_total` is checked against.
//!
//! A partition knows only its own conversation's held acks; the engine keeps this count beside
//! its partition cache (changed by every fold, saved with the checkpoint marker) so the total
//! bound needs no walk over conversations. Only conversations holding at least one ack appear,
//! so its size is bounded by the policy's total, not by the number of conversations.

use crate::ids::ConversationId;
use crate::state::State;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// Read acks held for messages not sent yet, by conversation (only conversations holding some).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "HeldWire", into = "HeldWire")]
pub struct HeldEarlyAcks {
    by_conversation: FxHashMap<ConversationId, u32>,
    /// The sum of `by_conversation`, kept so the total bound is an O(1) check.
    total: u64,
}

/// The stored form: (conversation, count) pairs sorted by conversation, every count above 0.
#[derive(Serialize, Deserialize)]
struct HeldWire(
    #[serde(deserialize_with = "crate::bounded_serde::vec")] Vec<(ConversationId, u32)>,
);

impl From<HeldEarlyAcks> for HeldWire {
    fn from(held: HeldEarlyAcks) -> Self {
        let mut pairs: Vec<(ConversationId, u32)> = held.by_conversation.into_iter().collect();
        // Sorted, so the same counts always encode to the same bytes.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        Self(pairs)
    }
}

impl TryFrom<HeldWire> for HeldEarlyAcks {
    type Error = String;
    fn try_from(wire: HeldWire) -> Result<Self, String> {
        let mut held = Self::default();
        for (conversation, count) in wire.0 {
            if count == 0 {
                return Err(format!("{conversation} is listed holding no read ack"));
            }
            if held
                .by_conversation
                .insert(conversation.clone(), count)
                .is_some()
            {
                return Err(format!("{conversation} is listed twice"));
            }
            held.total += u64::from(count);
        }
        Ok(held)
    }
}

impl HeldEarlyAcks {
    /// The held acks of every conversation in `state` (O(conversations)).
    pub fn of(state: &State) -> Self {
        let mut held = Self::default();
        for c in &state.conversations {
            held.set(&c.id, c.early_acks.len() as u32);
        }
        held
    }

    /// Read acks held in all conversations.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Read acks held in `conversation`.
    pub fn in_conversation(&self, conversation: &ConversationId) -> u32 {
        self.by_conversation.get(conversation).copied().unwrap_or(0)
    }

    /// The conversations holding read acks, with how many each holds, in no particular order.
    pub fn conversations(&self) -> impl Iterator<Item = (&ConversationId, u32)> {
        self.by_conversation.iter().map(|(c, n)| (c, *n))
    }

    /// Records that `conversation` now holds `count` read acks.
    pub fn set(&mut self, conversation: &ConversationId, count: u32) {
        let before = if count == 0 {
            self.by_conversation.remove(conversation).unwrap_or(0)
        } else {
            self.by_conversation
                .insert(conversation.clone(), count)
                .unwrap_or(0)
        };
        self.total = self.total - u64::from(before) + u64::from(count);
    }
}

impl State {
    /// Read acks held in `conversation` for messages not sent yet.
    pub fn early_acks_held_in(&self, conversation: &ConversationId) -> u32 {
        self.conversation(conversation)
            .map_or(0, |c| c.early_acks.len() as u32)
    }

    /// Read acks held in every conversation of this state: a partition's own count, without a
    /// lookup by id (O(conversations), one for a partition).
    pub fn early_acks_held(&self) -> u32 {
        self.conversations
            .iter()
            .map(|c| c.early_acks.len() as u32)
            .fold(0, u32::saturating_add)
    }
}
