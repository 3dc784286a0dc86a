//! The fold of read acks held for messages not sent yet (`decide/early_ack.rs` decides them):
//! held in their conversation, released when applied or dropped. The buffer is bounded by the
//! policy, so each step is O(held acks of the conversation).

use crate::ids::{ConversationId, MessageId, UserId};
use crate::state::{ConvIdx, EarlyAck, State};

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
            c.early_acks
                .retain(|e| !(e.message == message && e.reader == u));
        }
    }

    /// Releases the held ack of `reader` for a message just acknowledged (its conversation
    /// found through the message).
    pub(crate) fn release_held_of(&mut self, message: MessageId, reader: &UserId) {
        if let Some(r) = self.messages.get(&message).copied() {
            if !self.conversations[r.conversation as usize]
                .early_acks
                .is_empty()
            {
                self.release_held(r.conversation, message, reader);
            }
        }
    }
}
