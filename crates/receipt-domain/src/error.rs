//! Typed errors. A command that returns one of these changed nothing.

use crate::ids::{ConversationId, GroupId, InvalidInput, MessageId, UserId};

/// Why `decide` rejected a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    #[error("invalid input: {0}")]
    InvalidInput(#[from] InvalidInput),
    #[error("unknown message {0}")]
    UnknownMessage(MessageId),
    #[error("message id {0} is already used by another message")]
    MessageIdInUse(MessageId),
    #[error("{user} is not a participant of this direct conversation")]
    NotAParticipant { user: UserId },
    #[error("{user} is not a member of group {group}")]
    NotAMember { user: UserId, group: GroupId },
    #[error("{user} is not a recipient of message {message}")]
    NotARecipient { user: UserId, message: MessageId },
    #[error("{user} sent message {message}; a sender cannot acknowledge its own message")]
    OwnMessage { user: UserId, message: MessageId },
    #[error("{user} is already a member of group {group} with another role; use set_role")]
    AlreadyMember { user: UserId, group: GroupId },
    #[error("delivery acks are disabled (require_delivery_ack is off)")]
    DeliveryAcksDisabled,
    #[error("read acks are disabled (require_read_ack is off)")]
    ReadAcksDisabled,
    #[error("group read receipts are not enabled")]
    GroupReadReceiptsDisabled,
    #[error("group chats have no delivery receipts")]
    GroupDeliveryUnsupported,
    #[error("message {0} is a group message; use a group read ack")]
    NotADirectMessage(MessageId),
    #[error("message {0} is a direct message; group read acks apply to group messages")]
    NotAGroupMessage(MessageId),
    #[error("conversation read acks are only for direct chats")]
    ConversationAckDirectOnly,
    #[error("message {0} was sent without group read receipts")]
    GroupAckNotRequested(MessageId),
    #[error("message {message} is {age_ms} ms old; group acks are valid for {validity_ms} ms")]
    AckExpired {
        message: MessageId,
        age_ms: u64,
        validity_ms: u64,
    },
    #[error("no message or member was ever recorded in {0}")]
    UnknownConversation(ConversationId),
    #[error("the ack of message {message} is stamped {at_ms} ms, before the message was sent at {sent_at_ms} ms")]
    AckBeforeSend {
        message: MessageId,
        at_ms: u64,
        sent_at_ms: u64,
    },
    #[error("message {message} is {age_ms} ms old, past its retention of {retention_ms} ms")]
    MessageExpired {
        message: MessageId,
        age_ms: u64,
        retention_ms: u64,
    },
}

impl DomainError {
    /// The error's variant name, stable across releases: for tallies, logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidInput(..) => "InvalidInput",
            Self::UnknownMessage(..) => "UnknownMessage",
            Self::MessageIdInUse(..) => "MessageIdInUse",
            Self::NotAParticipant { .. } => "NotAParticipant",
            Self::NotAMember { .. } => "NotAMember",
            Self::NotARecipient { .. } => "NotARecipient",
            Self::OwnMessage { .. } => "OwnMessage",
            Self::AlreadyMember { .. } => "AlreadyMember",
            Self::DeliveryAcksDisabled => "DeliveryAcksDisabled",
            Self::ReadAcksDisabled => "ReadAcksDisabled",
            Self::GroupReadReceiptsDisabled => "GroupReadReceiptsDisabled",
            Self::GroupDeliveryUnsupported => "GroupDeliveryUnsupported",
            Self::NotADirectMessage(..) => "NotADirectMessage",
            Self::NotAGroupMessage(..) => "NotAGroupMessage",
            Self::ConversationAckDirectOnly => "ConversationAckDirectOnly",
            Self::GroupAckNotRequested(..) => "GroupAckNotRequested",
            Self::AckExpired { .. } => "AckExpired",
            Self::UnknownConversation(..) => "UnknownConversation",
            Self::AckBeforeSend { .. } => "AckBeforeSend",
            Self::MessageExpired { .. } => "MessageExpired",
        }
    }
}

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    #[error("invalid input: {0}")]
    InvalidInput(#[from] InvalidInput),
    #[error("unknown message {0}")]
    UnknownMessage(MessageId),
    #[error("{viewer} may not see the group acks of message {message}")]
    Forbidden { viewer: UserId, message: MessageId },
    #[error("{user} is neither the sender nor a recipient of message {message}")]
    NotARecipient { user: UserId, message: MessageId },
    #[error("message {0} was sent without group read receipts")]
    GroupAckNotRequested(MessageId),
}
