//! Commands: what a user or the service asks for. `decide` turns them into events or a typed error.
//!
//! The enum is append-only: a new kind of command gets a new variant at the end.

use crate::event::Role;
use crate::ids::{CommandId, ConversationId, GroupId, MessageId, UserId};
use serde::{Deserialize, Serialize};

/// A command with its identity and the time it was issued (the domain never reads a clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub id: CommandId,
    pub at_ms: u64,
    pub kind: CommandKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CommandKind {
    /// Send a message (the SDK's `sendMessage`, with `needGroupAck` for groups).
    SendMessage {
        conversation: ConversationId,
        message: MessageId,
        sender: UserId,
        needs_group_ack: bool,
    },
    /// The recipient's device received a direct message (the SDK's automatic delivery ack).
    Deliver {
        message: MessageId,
        recipient: UserId,
    },
    /// `sendMessageReadAck`: a direct-chat read receipt for one message.
    AckMessageRead {
        message: MessageId,
        reader: UserId,
    },
    /// `sendConversationReadAck`: read receipt for the whole direct conversation.
    AckConversationRead {
        conversation: ConversationId,
        reader: UserId,
    },
    /// `sendGroupMessageReadAck`.
    AckGroupMessageRead {
        message: MessageId,
        reader: UserId,
    },
    /// `markMessageAsRead`: read privately, no receipt.
    MarkMessageRead {
        message: MessageId,
        reader: UserId,
    },
    /// `markAllMessagesAsRead`: the whole conversation, privately.
    MarkConversationRead {
        conversation: ConversationId,
        reader: UserId,
    },
    JoinGroup {
        group: GroupId,
        user: UserId,
        role: Role,
    },
    LeaveGroup {
        group: GroupId,
        user: UserId,
    },
    SetRole {
        group: GroupId,
        user: UserId,
        role: Role,
    },
}
