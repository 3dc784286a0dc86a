//! Typed errors. A command that returns one of these changed nothing.

use crate::ids::{ConversationId, GroupId, InvalidInput, MessageId, UserId};

/// Why `decide` rejected a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// An argument was malformed. (Its message says the reason once: no `source()`, so an
    /// error-chain printer does not repeat it.)
    #[error("invalid input: {0}")]
    InvalidInput(InvalidInput),
    /// No message with this id was ever sent.
    #[error("unknown message {0}")]
    UnknownMessage(MessageId),
    /// The message id is already used by another message.
    #[error("message id {0} is already used by another message")]
    MessageIdInUse(MessageId),
    /// The user is not one of the direct conversation's two participants.
    #[error("{user} is not a participant of this direct conversation")]
    NotAParticipant {
        /// The user named by the command.
        user: UserId,
    },
    /// The user is not a current member of the group.
    #[error("{user} is not a member of group {group}")]
    NotAMember {
        /// The user named by the command.
        user: UserId,
        /// The group.
        group: GroupId,
    },
    /// The user did not receive the message (not a member when it was sent, or its sender).
    #[error("{user} is not a recipient of message {message}")]
    NotARecipient {
        /// The user named by the command.
        user: UserId,
        /// The message.
        message: MessageId,
    },
    /// A sender cannot acknowledge its own message.
    #[error("{user} sent message {message}; a sender cannot acknowledge its own message")]
    OwnMessage {
        /// The user named by the command.
        user: UserId,
        /// The message.
        message: MessageId,
    },
    /// The user is already a member with another role (use `SetRole`).
    #[error("{user} is already a member of group {group} with another role; use set_role")]
    AlreadyMember {
        /// The user named by the command.
        user: UserId,
        /// The group.
        group: GroupId,
    },
    /// Delivery receipts are off in the policy (`require_delivery_ack`).
    #[error("delivery acks are disabled (require_delivery_ack is off)")]
    DeliveryAcksDisabled,
    /// Read receipts are off in the policy (`require_read_ack`).
    #[error("read acks are disabled (require_read_ack is off)")]
    ReadAcksDisabled,
    /// Group read receipts are off in the policy.
    #[error("group read receipts are not enabled")]
    GroupReadReceiptsDisabled,
    /// Group chats have no delivery receipts.
    #[error("group chats have no delivery receipts")]
    GroupDeliveryUnsupported,
    /// A direct-chat receipt was sent for a group message.
    #[error("message {0} is a group message; use a group read ack")]
    NotADirectMessage(MessageId),
    /// A group read ack was sent for a direct message.
    #[error("message {0} is a direct message; group read acks apply to group messages")]
    NotAGroupMessage(MessageId),
    /// Conversation read acks exist for direct chats only.
    #[error("conversation read acks are only for direct chats")]
    ConversationAckDirectOnly,
    /// The message was sent without group read receipts.
    #[error("message {0} was sent without group read receipts")]
    GroupAckNotRequested(MessageId),
    /// The group ack came after the policy's validity window.
    #[error("message {message} is {age_ms} ms old; group acks are valid for {validity_ms} ms")]
    AckExpired {
        /// The message.
        message: MessageId,
        /// How old the message was when the command was stamped, in milliseconds.
        age_ms: u64,
        /// How long group acks are accepted after sending, in milliseconds (policy).
        validity_ms: u64,
    },
    /// Nothing was ever recorded in this conversation.
    #[error("no message or member was ever recorded in {0}")]
    UnknownConversation(ConversationId),
    /// The ack is stamped before its message was sent.
    #[error("the ack of message {message} is stamped {at_ms} ms, before the message was sent at {sent_at_ms} ms")]
    AckBeforeSend {
        /// The message.
        message: MessageId,
        /// When it happened, in milliseconds since the Unix epoch (the caller's clock).
        at_ms: u64,
        /// When the message was sent, in milliseconds since the Unix epoch.
        sent_at_ms: u64,
    },
    /// The message is past the policy's retention.
    #[error("message {message} is {age_ms} ms old, past its retention of {retention_ms} ms")]
    MessageExpired {
        /// The message.
        message: MessageId,
        /// How old the message was when the command was stamped, in milliseconds.
        age_ms: u64,
        /// How long messages are kept, in milliseconds (policy).
        retention_ms: u64,
    },
    /// A batch or bulk command names no item, or more than the policy allows.
    #[error("the command names {count} items; 1 to {max} are allowed")]
    BatchSize {
        /// Items named (duplicates included).
        count: usize,
        /// The most allowed (policy).
        max: u32,
    },
    /// A batch read ack names a message of another conversation.
    #[error("message {message} is not in {conversation}")]
    MessageNotInConversation {
        /// The message.
        message: MessageId,
        /// The conversation the command names.
        conversation: ConversationId,
    },
    /// A group cannot be created twice: something was already recorded in it.
    #[error("group {0} already exists")]
    GroupExists(GroupId),
    /// The message was recalled: it can no longer be delivered, read or acknowledged.
    #[error("message {0} was recalled")]
    MessageRecalled(MessageId),
    /// The sender's recall came after the policy's recall window.
    #[error("message {message} is {age_ms} ms old; its sender may recall it for {window_ms} ms")]
    RecallWindowExpired {
        /// The message.
        message: MessageId,
        /// How old the message was when the command was stamped, in milliseconds.
        age_ms: u64,
        /// How long a sender may recall a message, in milliseconds (policy).
        window_ms: u64,
    },
    /// The conversation already holds the most read acks for messages not sent yet, none of
    /// them expired.
    #[error("{conversation} already holds {max} read acks for messages not sent yet")]
    EarlyAckBufferFull {
        /// The conversation.
        conversation: ConversationId,
        /// The most it holds (policy).
        max: u32,
    },
    /// The store holds as many read acks for messages not sent yet as the policy allows in all
    /// conversations together (`Policy::max_early_acks_total`), none of them expired.
    #[error("the store already holds {max_total} read acks for messages not sent yet")]
    EarlyAcksFull {
        /// The most held in all conversations (policy).
        max_total: u32,
    },
    /// The message is a thread reply, where a message of the conversation's own sequence is
    /// needed (a thread's root, a read ack that may arrive early).
    #[error("message {0} is a thread reply")]
    ThreadReply(MessageId),
    /// Only the sender, or an owner or admin of the group, may recall a message.
    #[error("{user} may not recall message {message}")]
    RecallNotPermitted {
        /// The user named by the command.
        user: UserId,
        /// The message.
        message: MessageId,
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
            Self::BatchSize { .. } => "BatchSize",
            Self::MessageNotInConversation { .. } => "MessageNotInConversation",
            Self::GroupExists(..) => "GroupExists",
            Self::MessageRecalled(..) => "MessageRecalled",
            Self::RecallWindowExpired { .. } => "RecallWindowExpired",
            Self::RecallNotPermitted { .. } => "RecallNotPermitted",
            Self::EarlyAckBufferFull { .. } => "EarlyAckBufferFull",
            Self::EarlyAcksFull { .. } => "EarlyAcksFull",
            Self::ThreadReply(_) => "ThreadReply",
        }
    }
}

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// An argument was malformed. (Its message says the reason once: no `source()`, so an
    /// error-chain printer does not repeat it.)
    #[error("invalid input: {0}")]
    InvalidInput(InvalidInput),
    /// No message with this id was ever sent.
    #[error("unknown message {0}")]
    UnknownMessage(MessageId),
    /// The viewer may not see this message's group acks (visibility policy).
    #[error("{viewer} may not see the group acks of message {message}")]
    Forbidden {
        /// The user asking.
        viewer: UserId,
        /// The message.
        message: MessageId,
    },
    /// The user did not receive the message (not a member when it was sent, or its sender).
    #[error("{user} is neither the sender nor a recipient of message {message}")]
    NotARecipient {
        /// The user named by the command.
        user: UserId,
        /// The message.
        message: MessageId,
    },
    /// The message was sent without group read receipts.
    #[error("message {0} was sent without group read receipts")]
    GroupAckNotRequested(MessageId),
    /// The message was recalled: it has no readers to list or count any more.
    #[error("message {0} was recalled")]
    MessageRecalled(MessageId),
}

impl From<InvalidInput> for DomainError {
    fn from(e: InvalidInput) -> Self {
        Self::InvalidInput(e)
    }
}

impl QueryError {
    /// The variant's name, stable across releases (`"Forbidden"`, `"UnknownMessage"`, ...):
    /// for tallies, logs and API error codes.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidInput(..) => "InvalidInput",
            Self::UnknownMessage(..) => "UnknownMessage",
            Self::Forbidden { .. } => "Forbidden",
            Self::NotARecipient { .. } => "NotARecipient",
            Self::GroupAckNotRequested(..) => "GroupAckNotRequested",
            Self::MessageRecalled(..) => "MessageRecalled",
        }
    }
}

impl From<InvalidInput> for QueryError {
    fn from(e: InvalidInput) -> Self {
        Self::InvalidInput(e)
    }
}
