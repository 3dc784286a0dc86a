//! Schema version 1 of stored events: frozen copies of the domain's event types.
//!
//! The domain types may grow; what is here never changes: a new kind of event is a new variant
//! appended at the end of `BodyV1` (bincode stores the variant's index, so every record written
//! before still decodes to the same event), and nothing is ever reordered, changed or removed.
//! Decoding reads these and converts (upcasts, in schema_v1_upcast.rs) them into the current
//! domain types, re-validating every id, so a stored record that decodes is a valid event. A
//! schema that must change an existing type adds `schema_v2.rs` and an upcast from v1; this
//! file stays.

use crate::error::StoreError;
use receipt_domain::{
    ConversationId, EarlyAckDropReason, Event, EventBody, GroupAck, GroupAckDeclined, GroupId,
    NotificationMode, Role, UserId,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Version of the stored event schema in this file.
pub const SCHEMA_VERSION: u16 = 1;

/// A stored string: the same bytes as a `String` (length, then UTF-8), decoded by borrowing
/// from the record first, so a length claim larger than the record fails without allocating.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Text(pub String);

impl Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
        }
        d.deserialize_str(Visitor)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EventV1 {
    pub id: Uuid,
    pub at_ms: u64,
    pub body: BodyV1,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum ConversationV1 {
    Direct { low: Text, high: Text },
    Group(Text),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum RoleV1 {
    Owner,
    Admin,
    Member,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum DeclinedV1 {
    ReadAcksDisabled,
    FeatureDisabled,
    SenderNotPermitted,
    GroupTooLarge { members: u32, max_group_size: u32 },
    NotAGroup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum GroupAckV1 {
    NotRequested,
    Enabled,
    Declined(DeclinedV1),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum BodyV1 {
    MessageSent {
        conversation: ConversationV1,
        message: Uuid,
        sender: Text,
        group_ack: GroupAckV1,
    },
    Delivered {
        conversation: ConversationV1,
        message: Uuid,
        recipient: Text,
    },
    ReadAcked {
        conversation: ConversationV1,
        message: Uuid,
        reader: Text,
    },
    ConversationAcked {
        conversation: ConversationV1,
        reader: Text,
    },
    GroupReadAcked {
        group: Text,
        message: Uuid,
        reader: Text,
    },
    MessageMarkedRead {
        conversation: ConversationV1,
        message: Uuid,
        reader: Text,
    },
    ConversationMarkedRead {
        conversation: ConversationV1,
        reader: Text,
    },
    MemberJoined {
        group: Text,
        user: Text,
        role: RoleV1,
    },
    MemberLeft {
        group: Text,
        user: Text,
    },
    MemberRoleChanged {
        group: Text,
        user: Text,
        role: RoleV1,
    },
    // Appended after the seed's events (the recall feature): never move it.
    MessageRecalled {
        conversation: ConversationV1,
        message: Uuid,
        by: Text,
    },
    // Appended next (mentions, notification modes).
    UsersMentioned {
        conversation: ConversationV1,
        message: Uuid,
        // Allocated as decoded, never by the stored length.
        #[serde(deserialize_with = "receipt_domain::bounded_serde::vec")]
        users: Vec<Text>,
        everyone: bool,
    },
    NotificationModeChanged {
        conversation: ConversationV1,
        user: Text,
        mode: NotificationModeV1,
    },
    // Appended next (read up to a position).
    ConversationAckedUpTo {
        conversation: ConversationV1,
        reader: Text,
        up_to: Uuid,
    },
    ConversationMarkedReadUpTo {
        conversation: ConversationV1,
        reader: Text,
        up_to: Uuid,
    },
    // Appended next (read acks ahead of their messages).
    ReadAckBuffered {
        conversation: ConversationV1,
        message: Uuid,
        reader: Text,
        expires_at_ms: u64,
    },
    EarlyAckDropped {
        conversation: ConversationV1,
        message: Uuid,
        reader: Text,
        reason: EarlyAckDropReasonV1,
    },
    // Appended next (threads; conversions in schema_v1_threads.rs).
    ThreadReplySent {
        conversation: ConversationV1,
        root: Uuid,
        message: Uuid,
        sender: Text,
    },
    ThreadFollowChanged {
        conversation: ConversationV1,
        root: Uuid,
        user: Text,
        following: bool,
    },
    ThreadRead {
        conversation: ConversationV1,
        root: Uuid,
        reader: Text,
        receipt: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum EarlyAckDropReasonV1 {
    Expired,
    OwnMessage,
    NotARecipient,
    GroupAckNotRequested,
    ReadAcksDisabled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum NotificationModeV1 {
    All,
    MentionsOnly,
    Muted,
}

// ---- domain -> stored (encoding: total over what this schema knows) -----------------------------

pub(crate) fn conversation_to_v1(c: &ConversationId) -> ConversationV1 {
    match c {
        ConversationId::Direct { low, high } => ConversationV1::Direct {
            low: Text(low.as_str().to_owned()),
            high: Text(high.as_str().to_owned()),
        },
        ConversationId::Group(g) => ConversationV1::Group(Text(g.as_str().to_owned())),
    }
}

fn role_to_v1(r: Role) -> Result<RoleV1, StoreError> {
    Ok(match r {
        Role::Owner => RoleV1::Owner,
        Role::Admin => RoleV1::Admin,
        Role::Member => RoleV1::Member,
        _ => return Err(StoreError::UnsupportedEvent("Role")),
    })
}

fn group_ack_to_v1(g: GroupAck) -> Result<GroupAckV1, StoreError> {
    Ok(match g {
        GroupAck::NotRequested => GroupAckV1::NotRequested,
        GroupAck::Enabled => GroupAckV1::Enabled,
        GroupAck::Declined(d) => GroupAckV1::Declined(match d {
            GroupAckDeclined::ReadAcksDisabled => DeclinedV1::ReadAcksDisabled,
            GroupAckDeclined::FeatureDisabled => DeclinedV1::FeatureDisabled,
            GroupAckDeclined::SenderNotPermitted => DeclinedV1::SenderNotPermitted,
            GroupAckDeclined::GroupTooLarge {
                members,
                max_group_size,
            } => DeclinedV1::GroupTooLarge {
                members,
                max_group_size,
            },
            GroupAckDeclined::NotAGroup => DeclinedV1::NotAGroup,
            _ => return Err(StoreError::UnsupportedEvent("GroupAckDeclined")),
        }),
        _ => return Err(StoreError::UnsupportedEvent("GroupAck")),
    })
}

pub(crate) fn event_to_v1(e: &Event) -> Result<EventV1, StoreError> {
    let s = |u: &UserId| Text(u.as_str().to_owned());
    let g = |g: &GroupId| Text(g.as_str().to_owned());
    let c = conversation_to_v1;
    let body = match &e.body {
        EventBody::ThreadReplySent { .. }
        | EventBody::ThreadFollowChanged { .. }
        | EventBody::ThreadRead { .. } => crate::schema_v1_threads::to_v1(&e.body)?,
        EventBody::MessageSent {
            conversation,
            message,
            sender,
            group_ack,
        } => BodyV1::MessageSent {
            conversation: c(conversation),
            message: message.0,
            sender: s(sender),
            group_ack: group_ack_to_v1(*group_ack)?,
        },
        EventBody::Delivered {
            conversation,
            message,
            recipient,
        } => BodyV1::Delivered {
            conversation: c(conversation),
            message: message.0,
            recipient: s(recipient),
        },
        EventBody::ReadAcked {
            conversation,
            message,
            reader,
        } => BodyV1::ReadAcked {
            conversation: c(conversation),
            message: message.0,
            reader: s(reader),
        },
        EventBody::ConversationAcked {
            conversation,
            reader,
        } => BodyV1::ConversationAcked {
            conversation: c(conversation),
            reader: s(reader),
        },
        EventBody::GroupReadAcked {
            group,
            message,
            reader,
        } => BodyV1::GroupReadAcked {
            group: g(group),
            message: message.0,
            reader: s(reader),
        },
        EventBody::MessageMarkedRead {
            conversation,
            message,
            reader,
        } => BodyV1::MessageMarkedRead {
            conversation: c(conversation),
            message: message.0,
            reader: s(reader),
        },
        EventBody::ConversationMarkedRead {
            conversation,
            reader,
        } => BodyV1::ConversationMarkedRead {
            conversation: c(conversation),
            reader: s(reader),
        },
        EventBody::MemberJoined { group, user, role } => BodyV1::MemberJoined {
            group: g(group),
            user: s(user),
            role: role_to_v1(*role)?,
        },
        EventBody::MemberLeft { group, user } => BodyV1::MemberLeft {
            group: g(group),
            user: s(user),
        },
        EventBody::MemberRoleChanged { group, user, role } => BodyV1::MemberRoleChanged {
            group: g(group),
            user: s(user),
            role: role_to_v1(*role)?,
        },
        EventBody::MessageRecalled {
            conversation,
            message,
            by,
        } => BodyV1::MessageRecalled {
            conversation: c(conversation),
            message: message.0,
            by: s(by),
        },
        EventBody::UsersMentioned {
            conversation,
            message,
            users,
            everyone,
        } => BodyV1::UsersMentioned {
            conversation: c(conversation),
            message: message.0,
            users: users.iter().map(s).collect(),
            everyone: *everyone,
        },
        EventBody::NotificationModeChanged {
            conversation,
            user,
            mode,
        } => BodyV1::NotificationModeChanged {
            conversation: c(conversation),
            user: s(user),
            mode: match mode {
                NotificationMode::All => NotificationModeV1::All,
                NotificationMode::MentionsOnly => NotificationModeV1::MentionsOnly,
                NotificationMode::Muted => NotificationModeV1::Muted,
                _ => return Err(StoreError::UnsupportedEvent("NotificationMode")),
            },
        },
        EventBody::ConversationAckedUpTo {
            conversation,
            reader,
            up_to,
        } => BodyV1::ConversationAckedUpTo {
            conversation: c(conversation),
            reader: s(reader),
            up_to: up_to.0,
        },
        EventBody::ConversationMarkedReadUpTo {
            conversation,
            reader,
            up_to,
        } => BodyV1::ConversationMarkedReadUpTo {
            conversation: c(conversation),
            reader: s(reader),
            up_to: up_to.0,
        },
        EventBody::ReadAckBuffered {
            conversation,
            message,
            reader,
            expires_at_ms,
        } => BodyV1::ReadAckBuffered {
            conversation: c(conversation),
            message: message.0,
            reader: s(reader),
            expires_at_ms: *expires_at_ms,
        },
        EventBody::EarlyAckDropped {
            conversation,
            message,
            reader,
            reason,
        } => BodyV1::EarlyAckDropped {
            conversation: c(conversation),
            message: message.0,
            reader: s(reader),
            reason: match reason {
                EarlyAckDropReason::Expired => EarlyAckDropReasonV1::Expired,
                EarlyAckDropReason::OwnMessage => EarlyAckDropReasonV1::OwnMessage,
                EarlyAckDropReason::NotARecipient => EarlyAckDropReasonV1::NotARecipient,
                EarlyAckDropReason::GroupAckNotRequested => {
                    EarlyAckDropReasonV1::GroupAckNotRequested
                }
                EarlyAckDropReason::ReadAcksDisabled => EarlyAckDropReasonV1::ReadAcksDisabled,
                _ => return Err(StoreError::UnsupportedEvent("EarlyAckDropReason")),
            },
        },
        other => return Err(StoreError::UnsupportedEvent(other.kind_name())),
    };
    Ok(EventV1 {
        id: e.id.0,
        at_ms: e.at_ms,
        body,
    })
}
