//! Schema version 1, stored -> domain: the upcast of the frozen types of schema_v1.rs into the
//! current domain types, re-validating every id (a stored record that decodes is a valid
//! event). Kept apart from schema_v1.rs for size; the frozen types stay there.

use crate::schema_v1::{
    BodyV1, ConversationV1, DeclinedV1, EarlyAckDropReasonV1, EventV1, GroupAckV1,
    NotificationModeV1, RoleV1, Text,
};
use receipt_domain::{
    ConversationId, EarlyAckDropReason, Event, EventBody, EventId, GroupAck, GroupAckDeclined,
    GroupId, MessageId, NotificationMode, Role, UserId,
};

pub(crate) fn user(s: Text) -> Result<UserId, String> {
    UserId::from_stored(s.0).map_err(|e| e.to_string())
}

fn group(s: Text) -> Result<GroupId, String> {
    GroupId::from_stored(s.0).map_err(|e| e.to_string())
}

pub(crate) fn conversation_from_v1(c: ConversationV1) -> Result<ConversationId, String> {
    match c {
        ConversationV1::Direct { low, high } => {
            let (low, high) = (user(low)?, user(high)?);
            if low >= high {
                return Err("direct conversation pair is not sorted and distinct".into());
            }
            ConversationId::direct(low, high).map_err(|e| e.to_string())
        }
        ConversationV1::Group(g) => Ok(ConversationId::Group(group(g)?)),
    }
}

fn role_from_v1(r: RoleV1) -> Role {
    match r {
        RoleV1::Owner => Role::Owner,
        RoleV1::Admin => Role::Admin,
        RoleV1::Member => Role::Member,
    }
}

fn group_ack_from_v1(g: GroupAckV1) -> GroupAck {
    match g {
        GroupAckV1::NotRequested => GroupAck::NotRequested,
        GroupAckV1::Enabled => GroupAck::Enabled,
        GroupAckV1::Declined(d) => GroupAck::Declined(match d {
            DeclinedV1::ReadAcksDisabled => GroupAckDeclined::ReadAcksDisabled,
            DeclinedV1::FeatureDisabled => GroupAckDeclined::FeatureDisabled,
            DeclinedV1::SenderNotPermitted => GroupAckDeclined::SenderNotPermitted,
            DeclinedV1::GroupTooLarge {
                members,
                max_group_size,
            } => GroupAckDeclined::GroupTooLarge {
                members,
                max_group_size,
            },
            DeclinedV1::NotAGroup => GroupAckDeclined::NotAGroup,
        }),
    }
}

pub(crate) fn event_from_v1(e: EventV1) -> Result<Event, String> {
    let c = conversation_from_v1;
    let m = MessageId;
    let body = match e.body {
        body @ (BodyV1::ThreadReplySent { .. }
        | BodyV1::ThreadFollowChanged { .. }
        | BodyV1::ThreadRead { .. }) => crate::schema_v1_threads::from_v1(body)?,
        BodyV1::MessageSent {
            conversation,
            message,
            sender,
            group_ack,
        } => EventBody::MessageSent {
            conversation: c(conversation)?,
            message: m(message),
            sender: user(sender)?,
            group_ack: group_ack_from_v1(group_ack),
        },
        BodyV1::Delivered {
            conversation,
            message,
            recipient,
        } => EventBody::Delivered {
            conversation: c(conversation)?,
            message: m(message),
            recipient: user(recipient)?,
        },
        BodyV1::ReadAcked {
            conversation,
            message,
            reader,
        } => EventBody::ReadAcked {
            conversation: c(conversation)?,
            message: m(message),
            reader: user(reader)?,
        },
        BodyV1::ConversationAcked {
            conversation,
            reader,
        } => EventBody::ConversationAcked {
            conversation: c(conversation)?,
            reader: user(reader)?,
        },
        BodyV1::GroupReadAcked {
            group: g,
            message,
            reader,
        } => EventBody::GroupReadAcked {
            group: group(g)?,
            message: m(message),
            reader: user(reader)?,
        },
        BodyV1::MessageMarkedRead {
            conversation,
            message,
            reader,
        } => EventBody::MessageMarkedRead {
            conversation: c(conversation)?,
            message: m(message),
            reader: user(reader)?,
        },
        BodyV1::ConversationMarkedRead {
            conversation,
            reader,
        } => EventBody::ConversationMarkedRead {
            conversation: c(conversation)?,
            reader: user(reader)?,
        },
        BodyV1::MemberJoined {
            group: g,
            user: u,
            role,
        } => EventBody::MemberJoined {
            group: group(g)?,
            user: user(u)?,
            role: role_from_v1(role),
        },
        BodyV1::MemberLeft { group: g, user: u } => EventBody::MemberLeft {
            group: group(g)?,
            user: user(u)?,
        },
        BodyV1::MemberRoleChanged {
            group: g,
            user: u,
            role,
        } => EventBody::MemberRoleChanged {
            group: group(g)?,
            user: user(u)?,
            role: role_from_v1(role),
        },
        BodyV1::MessageRecalled {
            conversation,
            message,
            by,
        } => EventBody::MessageRecalled {
            conversation: c(conversation)?,
            message: m(message),
            by: user(by)?,
        },
        BodyV1::UsersMentioned {
            conversation,
            message,
            users,
            everyone,
        } => EventBody::UsersMentioned {
            conversation: c(conversation)?,
            message: m(message),
            users: users.into_iter().map(user).collect::<Result<_, _>>()?,
            everyone,
        },
        BodyV1::ReadAckBuffered {
            conversation,
            message,
            reader,
            expires_at_ms,
        } => EventBody::ReadAckBuffered {
            conversation: c(conversation)?,
            message: m(message),
            reader: user(reader)?,
            expires_at_ms,
        },
        BodyV1::EarlyAckDropped {
            conversation,
            message,
            reader,
            reason,
        } => EventBody::EarlyAckDropped {
            conversation: c(conversation)?,
            message: m(message),
            reader: user(reader)?,
            reason: match reason {
                EarlyAckDropReasonV1::Expired => EarlyAckDropReason::Expired,
                EarlyAckDropReasonV1::OwnMessage => EarlyAckDropReason::OwnMessage,
                EarlyAckDropReasonV1::NotARecipient => EarlyAckDropReason::NotARecipient,
                EarlyAckDropReasonV1::GroupAckNotRequested => {
                    EarlyAckDropReason::GroupAckNotRequested
                }
                EarlyAckDropReasonV1::ReadAcksDisabled => EarlyAckDropReason::ReadAcksDisabled,
            },
        },
        BodyV1::ConversationAckedUpTo {
            conversation,
            reader,
            up_to,
        } => EventBody::ConversationAckedUpTo {
            conversation: c(conversation)?,
            reader: user(reader)?,
            up_to: m(up_to),
        },
        BodyV1::ConversationMarkedReadUpTo {
            conversation,
            reader,
            up_to,
        } => EventBody::ConversationMarkedReadUpTo {
            conversation: c(conversation)?,
            reader: user(reader)?,
            up_to: m(up_to),
        },
        BodyV1::NotificationModeChanged {
            conversation,
            user: u,
            mode,
        } => EventBody::NotificationModeChanged {
            conversation: c(conversation)?,
            user: user(u)?,
            mode: match mode {
                NotificationModeV1::All => NotificationMode::All,
                NotificationModeV1::MentionsOnly => NotificationMode::MentionsOnly,
                NotificationModeV1::Muted => NotificationMode::Muted,
            },
        },
    };
    Ok(Event {
        id: EventId(e.id),
        at_ms: e.at_ms,
        body,
    })
}
