//! The fold of read acks held for messages not sent yet (`decide/early_ack.rs` decides them):
//! held in their conversation, released when applied or dropped. The buffer is bounded by the
//! policy, so each step is O(held acks of the conversation).

use crate::ids::{ConversationId, MessageId, UserId};
use crate::state::{ConvIdx, Conversation, EarlyAck, State, UserIdx};

impl State {
    /// Holds a read ack of `reader` for `message` (creating the direct chat, whose first message
    /// it precedes, if need be).
    pub(crate) fn hold_ack(
        &mut self,
        conversation: &ConversationId,
        message: MessageId,
        reader: &UserId,
        expires_at_ms: u64,
    ) {
        let conv = match conversation {
            ConversationId::Direct { low, high } => self.intern_direct(low, high).0,
            ConversationId::Group(group) => self.intern_group(group),
        };
        let u = self.intern_user(reader);
        let held = &mut self.conversations[conv as usize].early_acks;
        if !held.iter().any(|e| e.message == message && e.reader == u) {
            held.push(EarlyAck {
                message,
                reader: u,
                expires_at_ms,
            });
        }
    }

    /// Releases the held ack of `reader` for `message` in conversation `conv`, if any.
    pub(crate) fn release_held(&mut self, conv: ConvIdx, message: MessageId, reader: &UserId) {
        let Some(u) = self.user_idx(reader) else {
            return;
        };
        if let Some(c) = self.conversations.get_mut(conv as usize) {
            c.release_held(message, u);
        }
    }
}

impl Conversation {
    /// Releases the held ack of reader `u` for `message`, if any (an ack of the message was
    /// just folded: applied, or never held). O(1) when nothing is held.
    pub(crate) fn release_held(&mut self, message: MessageId, u: UserIdx) {
        if !self.early_acks.is_empty() {
            self.early_acks
                .retain(|e| !(e.message == message && e.reader == u));
        }
    }
}
