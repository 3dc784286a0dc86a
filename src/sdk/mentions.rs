//! Mentions and notification modes: sending a message that mentions users (with or without
//! group read receipts), a user's mention count, and how a user hears of a conversation.

use crate::engine::{Engine, Outcome};
use crate::error::EngineError;
use receipt_domain::{CommandKind, ConversationId, MessageId, NotificationMode, UserId};
use receipt_store::Backend;

impl<B: Backend> Engine<B> {
    /// Unread messages that mention `user` in `conversation`.
    pub fn mention_count(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<u32, EngineError> {
        self.with_partition(conversation, |s, _| s.mention_count(user, conversation))
    }

    /// Sends a message that mentions `mentions` by name (each a recipient) and, with
    /// `mention_all`, everyone: one decision, one append. Each mentioned user's mention count
    /// in the conversation grows by one until they read it. Sent without group read receipts;
    /// [`Engine::send_message_mentioning_requesting_group_acks`] asks for them too.
    pub fn send_message_mentioning(
        &self,
        conversation: &ConversationId,
        message: MessageId,
        sender: &UserId,
        mentions: &[UserId],
        mention_all: bool,
    ) -> Result<Outcome, EngineError> {
        self.send_mentioning(conversation, message, sender, mentions, mention_all, false)
    }

    /// [`Engine::send_message_mentioning`] asking for group read receipts, as
    /// [`Engine::send_message_requesting_group_acks`] does (declined, with a note, when the
    /// policy does not allow them).
    pub fn send_message_mentioning_requesting_group_acks(
        &self,
        conversation: &ConversationId,
        message: MessageId,
        sender: &UserId,
        mentions: &[UserId],
        mention_all: bool,
    ) -> Result<Outcome, EngineError> {
        self.send_mentioning(conversation, message, sender, mentions, mention_all, true)
    }

    fn send_mentioning(
        &self,
        conversation: &ConversationId,
        message: MessageId,
        sender: &UserId,
        mentions: &[UserId],
        mention_all: bool,
        needs_group_ack: bool,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::SendMessageMentioning {
            conversation: conversation.clone(),
            message,
            sender: sender.clone(),
            needs_group_ack,
            mentions: mentions.to_vec(),
            mention_all,
        })
    }

    /// How `user` hears of `conversation`: every message, mentions only, or muted (it then adds
    /// nothing to the badge but keeps its own unread count).
    pub fn set_notification_mode(
        &self,
        conversation: &ConversationId,
        user: &UserId,
        mode: NotificationMode,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::SetNotificationMode {
            conversation: conversation.clone(),
            user: user.clone(),
            mode,
        })
    }
}
