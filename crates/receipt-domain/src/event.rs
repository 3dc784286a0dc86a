//! Events: immutable facts, appended to the log of exactly one conversation.
//!
//! Persisted forever: variants and fields are only ever added at the end, and no serde attribute
//! that needs a self-describing format is used.

use crate::ids::{ConversationId, EventId, GroupId, MessageId, UserId};
use serde::{Deserialize, Serialize};

/// A member's role in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Role {
    /// Owns the group.
    Owner,
    /// Administers the group.
    Admin,
    /// A plain member.
    Member,
}

/// How a user wants to hear of a conversation: what it adds to their badge. Persisted:
/// append-only, variants are never reordered or removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum NotificationMode {
    /// Every unread message counts in the badge (the default).
    #[default]
    All,
    /// Only unread messages that mention the user count in the badge.
    MentionsOnly,
    /// Nothing counts in the badge; the conversation keeps its own unread count.
    Muted,
}

/// Why a read ack that arrived before its message was dropped instead of applied. Persisted:
/// append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EarlyAckDropReason {
    /// The message came after the ack's time to live (`Policy::early_ack_ttl_ms`), or the
    /// ack was pushed out of a full buffer after it.
    Expired,
    /// The message turned out to be the reader's own.
    OwnMessage,
    /// The reader did not receive the message (not the peer; not a member when it was sent).
    NotARecipient,
    /// A group message sent without read receipts.
    GroupAckNotRequested,
    /// Read receipts (or group read receipts) were switched off when the message came.
    ReadAcksDisabled,
}

/// Why a group message was sent without read receipts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum GroupAckDeclined {
    /// `require_read_ack` is off.
    ReadAcksDisabled,
    /// The group read-receipt feature is off for the app.
    FeatureDisabled,
    /// Only the owner and admins may request acks, and the sender is a plain member.
    SenderNotPermitted,
    /// The group had more members than the cap when the message was sent.
    GroupTooLarge {
        /// Members the group has.
        members: u32,
        /// The largest group whose messages can carry group acks (policy).
        max_group_size: u32,
    },
    /// Group acks were requested on a direct message.
    NotAGroup,
}

impl GroupAckDeclined {
    /// The reason's variant name, stable across releases: for tallies, logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ReadAcksDisabled => "ReadAcksDisabled",
            Self::FeatureDisabled => "FeatureDisabled",
            Self::SenderNotPermitted => "SenderNotPermitted",
            Self::GroupTooLarge { .. } => "GroupTooLarge",
            Self::NotAGroup => "NotAGroup",
        }
    }
}

impl std::fmt::Display for GroupAckDeclined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ReadAcksDisabled => {
                f.write_str("read acks are disabled (require_read_ack is off)")
            }
            Self::FeatureDisabled => f.write_str("group read receipts are not enabled"),
            Self::SenderNotPermitted => {
                f.write_str("only the owner and admins may request group read receipts")
            }
            Self::GroupTooLarge {
                members,
                max_group_size,
            } => write!(f, "group has {members} > {max_group_size} members"),
            Self::NotAGroup => f.write_str("group read receipts only apply to group messages"),
        }
    }
}

/// What was decided about group read receipts for a message when it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum GroupAck {
    /// The sender did not ask for group read receipts.
    NotRequested,
    /// Group read receipts are collected for this message.
    Enabled,
    /// The sender asked, and the policy declined (why).
    Declined(GroupAckDeclined),
}

/// An event: a fact with its id and the time of the command that produced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Derived from the command's id (`CommandId::event_id`).
    pub id: EventId,
    /// The command's time, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// What happened.
    pub body: EventBody,
}

/// What happened. Persisted: append-only, variants are never reordered or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EventBody {
    /// A message was sent.
    MessageSent {
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        message: MessageId,
        /// The user who sent it.
        sender: UserId,
        /// Whether group read receipts are collected for it.
        group_ack: GroupAck,
    },
    /// A direct message reached its recipient's device.
    Delivered {
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        message: MessageId,
        /// The user whose device received it.
        recipient: UserId,
    },
    /// A direct-chat read receipt for one message.
    ReadAcked {
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        message: MessageId,
        /// The user who read.
        reader: UserId,
    },
    /// Acks every message the peer sent the reader up to this point of the conversation's stream.
    ConversationAcked {
        /// The conversation.
        conversation: ConversationId,
        /// The user who read.
        reader: UserId,
    },
    /// A group read receipt for one message.
    GroupReadAcked {
        /// The group.
        group: GroupId,
        /// The message.
        message: MessageId,
        /// The user who read.
        reader: UserId,
    },
    /// A message was read privately (no receipt).
    MessageMarkedRead {
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        message: MessageId,
        /// The user who read.
        reader: UserId,
    },
    /// Marks every message up to this point of the conversation's stream read for the reader.
    ConversationMarkedRead {
        /// The conversation.
        conversation: ConversationId,
        /// The user who read.
        reader: UserId,
    },
    /// A user joined a group.
    MemberJoined {
        /// The group.
        group: GroupId,
        /// The user.
        user: UserId,
        /// The role.
        role: Role,
    },
    /// A user left a group.
    MemberLeft {
        /// The group.
        group: GroupId,
        /// The user.
        user: UserId,
    },
    /// A member's role changed.
    MemberRoleChanged {
        /// The group.
        group: GroupId,
        /// The user.
        user: UserId,
        /// The role.
        role: Role,
    },
    /// A message was recalled (deleted for everyone).
    MessageRecalled {
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        message: MessageId,
        /// The user who recalled it (its sender, or an owner or admin of the group).
        by: UserId,
    },
    /// A message just sent mentions users, or everyone: always right after its `MessageSent`.
    UsersMentioned {
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        message: MessageId,
        /// The users mentioned by name (each a recipient of the message).
        users: Vec<UserId>,
        /// `@all`: every recipient is mentioned.
        everyone: bool,
    },
    /// A user changed how they hear of a conversation (mute, mentions only).
    NotificationModeChanged {
        /// The conversation.
        conversation: ConversationId,
        /// The user.
        user: UserId,
        /// The new mode.
        mode: NotificationMode,
    },
    /// The direct-chat reader acknowledged every message of the peer up to and including
    /// `up_to` (and read every message up to it).
    ConversationAckedUpTo {
        /// The conversation.
        conversation: ConversationId,
        /// The user who read.
        reader: UserId,
        /// The last message covered.
        up_to: MessageId,
    },
    /// The reader read every message up to and including `up_to`, privately.
    ConversationMarkedReadUpTo {
        /// The conversation.
        conversation: ConversationId,
        /// The user who read.
        reader: UserId,
        /// The last message covered.
        up_to: MessageId,
    },
    /// A read ack for a message not sent yet (reordered delivery), held until it comes.
    ReadAckBuffered {
        /// The conversation.
        conversation: ConversationId,
        /// The message, not sent yet.
        message: MessageId,
        /// The user who read.
        reader: UserId,
        /// After this time the ack is dropped instead of applied, in milliseconds.
        expires_at_ms: u64,
    },
    /// A held read ack was dropped instead of applied.
    EarlyAckDropped {
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        message: MessageId,
        /// The user who read.
        reader: UserId,
        /// Why.
        reason: EarlyAckDropReason,
    },
    /// A reply in the thread of `root` (a message of the conversation). The sender follows
    /// the thread; with the first reply, so does the root's sender.
    ThreadReplySent {
        /// The conversation.
        conversation: ConversationId,
        /// The message the thread replies to.
        root: MessageId,
        /// The reply.
        message: MessageId,
        /// The user who sent it.
        sender: UserId,
    },
    /// The user follows the thread of `root` (its new replies count as unread for them), or
    /// stops following it.
    ThreadFollowChanged {
        /// The conversation.
        conversation: ConversationId,
        /// The thread's root message.
        root: MessageId,
        /// The user.
        user: UserId,
        /// Following from now on, or not.
        following: bool,
    },
    /// The reader read every reply of the thread of `root`; with a receipt, the replies'
    /// senders (and, as the policy allows, others) can see it.
    ThreadRead {
        /// The conversation.
        conversation: ConversationId,
        /// The thread's root message.
        root: MessageId,
        /// The user who read.
        reader: UserId,
        /// A read receipt (`AckThreadRead`), or a private read (`MarkThreadRead`).
        receipt: bool,
    },
}

impl EventBody {
    /// The one conversation (stream) this event belongs to.
    pub fn conversation(&self) -> ConversationId {
        match self {
            Self::MessageSent { conversation, .. }
            | Self::Delivered { conversation, .. }
            | Self::ReadAcked { conversation, .. }
            | Self::ConversationAcked { conversation, .. }
            | Self::MessageMarkedRead { conversation, .. }
            | Self::ConversationMarkedRead { conversation, .. } => conversation.clone(),
            Self::GroupReadAcked { group, .. }
            | Self::MemberJoined { group, .. }
            | Self::MemberLeft { group, .. }
            | Self::MemberRoleChanged { group, .. } => ConversationId::Group(group.clone()),
            Self::MessageRecalled { conversation, .. }
            | Self::UsersMentioned { conversation, .. }
            | Self::NotificationModeChanged { conversation, .. }
            | Self::ConversationAckedUpTo { conversation, .. }
            | Self::ConversationMarkedReadUpTo { conversation, .. }
            | Self::ReadAckBuffered { conversation, .. }
            | Self::EarlyAckDropped { conversation, .. }
            | Self::ThreadReplySent { conversation, .. }
            | Self::ThreadFollowChanged { conversation, .. }
            | Self::ThreadRead { conversation, .. } => conversation.clone(),
        }
    }

    /// A short stable name, for logs, exports and reports.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::MessageSent { .. } => "MessageSent",
            Self::Delivered { .. } => "Delivered",
            Self::ReadAcked { .. } => "ReadAcked",
            Self::ConversationAcked { .. } => "ConversationAcked",
            Self::GroupReadAcked { .. } => "GroupReadAcked",
            Self::MessageMarkedRead { .. } => "MessageMarkedRead",
            Self::ConversationMarkedRead { .. } => "ConversationMarkedRead",
            Self::MemberJoined { .. } => "MemberJoined",
            Self::MemberLeft { .. } => "MemberLeft",
            Self::MemberRoleChanged { .. } => "MemberRoleChanged",
            Self::MessageRecalled { .. } => "MessageRecalled",
            Self::UsersMentioned { .. } => "UsersMentioned",
            Self::NotificationModeChanged { .. } => "NotificationModeChanged",
            Self::ConversationAckedUpTo { .. } => "ConversationAckedUpTo",
            Self::ConversationMarkedReadUpTo { .. } => "ConversationMarkedReadUpTo",
            Self::ReadAckBuffered { .. } => "ReadAckBuffered",
            Self::EarlyAckDropped { .. } => "EarlyAckDropped",
            Self::ThreadReplySent { .. } => "ThreadReplySent",
            Self::ThreadFollowChanged { .. } => "ThreadFollowChanged",
            Self::ThreadRead { .. } => "ThreadRead",
        }
    }
}
