//! One method per operation of the seed's SDK, named so its users recognise them.

use crate::engine::{Engine, Outcome};
use crate::error::EngineError;
use receipt_domain::{
    AckCursor, CommandKind, ConversationId, ConversationUnread, GroupAckPage, GroupId, MessageId,
    MessageStatus, Role, UserId,
};
use receipt_store::Backend;

impl<B: Backend> Engine<B> {
    /// `sendMessage` (with `needGroupAck` for groups). Sending never fails because of receipts:
    /// a declined group-ack request is reported in [`Outcome::note`].
    pub fn send_message(
        &self,
        conversation: &ConversationId,
        message: MessageId,
        sender: &UserId,
        needs_group_ack: bool,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::SendMessage {
            conversation: conversation.clone(),
            message,
            sender: sender.clone(),
            needs_group_ack,
        })
    }

    /// The recipient's device received a direct message (delivery receipt).
    pub fn deliver(&self, message: MessageId, recipient: &UserId) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::Deliver {
            message,
            recipient: recipient.clone(),
        })
    }

    /// `sendMessageReadAck`.
    pub fn ack_message_read(
        &self,
        message: MessageId,
        reader: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::AckMessageRead {
            message,
            reader: reader.clone(),
        })
    }

    /// `sendConversationReadAck`.
    pub fn ack_conversation_read(
        &self,
        conversation: &ConversationId,
        reader: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::AckConversationRead {
            conversation: conversation.clone(),
            reader: reader.clone(),
        })
    }

    /// `sendGroupMessageReadAck`.
    pub fn ack_group_message_read(
        &self,
        message: MessageId,
        reader: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::AckGroupMessageRead {
            message,
            reader: reader.clone(),
        })
    }

    /// `markMessageAsRead`: read without a receipt.
    pub fn mark_message_read(
        &self,
        message: MessageId,
        reader: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::MarkMessageRead {
            message,
            reader: reader.clone(),
        })
    }

    /// `markAllMessagesAsRead`.
    pub fn mark_conversation_read(
        &self,
        conversation: &ConversationId,
        reader: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::MarkConversationRead {
            conversation: conversation.clone(),
            reader: reader.clone(),
        })
    }

    /// A user joins a group with a role (a no-op if already in it with that role).
    pub fn join_group(
        &self,
        group: &GroupId,
        user: &UserId,
        role: Role,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::JoinGroup {
            group: group.clone(),
            user: user.clone(),
            role,
        })
    }

    /// A user leaves a group; their unread count there stays until they read it.
    pub fn leave_group(&self, group: &GroupId, user: &UserId) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::LeaveGroup {
            group: group.clone(),
            user: user.clone(),
        })
    }

    /// Changes a current member's role.
    pub fn set_role(
        &self,
        group: &GroupId,
        user: &UserId,
        role: Role,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::SetRole {
            group: group.clone(),
            user: user.clone(),
            role,
        })
    }

    /// `fetchGroupAcks`: a page of readers in ack order.
    pub fn fetch_group_acks(
        &self,
        viewer: &UserId,
        message: MessageId,
        cursor: Option<AckCursor>,
        page_size: u32,
    ) -> Result<GroupAckPage, EngineError> {
        self.with_state(|s, p| s.fetch_group_acks(p, viewer, &message, cursor, page_size))
            .map_err(Into::into)
    }

    /// `groupAckCount`.
    pub fn group_ack_count(&self, viewer: &UserId, message: MessageId) -> Result<u32, EngineError> {
        self.with_state(|s, p| s.group_ack_count(p, viewer, &message))
            .map_err(Into::into)
    }

    /// Unread messages for `user` in `conversation` (O(1)).
    pub fn unread_count(&self, user: &UserId, conversation: &ConversationId) -> u32 {
        self.with_state(|s, _| s.unread_count(user, conversation))
    }

    /// The badge: unread over all the user's conversations.
    pub fn total_unread(&self, user: &UserId) -> u64 {
        self.with_state(|s, _| s.total_unread(user))
    }

    /// The user's conversations with their unread counts, in the order they first appeared.
    pub fn conversations(&self, user: &UserId) -> Vec<ConversationUnread> {
        self.with_state(|s, _| s.conversations(user))
    }

    /// The SDK's local receipt fields of a message, as `viewer` sees them.
    pub fn message_status(
        &self,
        viewer: &UserId,
        message: MessageId,
    ) -> Result<MessageStatus, EngineError> {
        self.with_state(|s, p| s.message_status(p, viewer, &message))
            .map_err(Into::into)
    }
}
