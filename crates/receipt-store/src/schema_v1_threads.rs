//! The stored form (schema v1, append-only) of the thread events: kept apart from
//! schema_v1.rs only for size. `BodyV1`'s thread variants are declared there, after every
//! earlier variant, so their tags follow the older ones'.

use crate::error::StoreError;
use crate::schema_v1::{conversation_to_v1, BodyV1, Text};
use crate::schema_v1_upcast::{conversation_from_v1, user};
use receipt_domain::{EventBody, MessageId};

/// A thread event's stored body (`Err` for any other event: the caller routes only these).
pub(crate) fn to_v1(body: &EventBody) -> Result<BodyV1, StoreError> {
    let s = |u: &receipt_domain::UserId| Text(u.as_str().to_owned());
    Ok(match body {
        EventBody::ThreadReplySent {
            conversation,
            root,
            message,
            sender,
        } => BodyV1::ThreadReplySent {
            conversation: conversation_to_v1(conversation),
            root: root.0,
            message: message.0,
            sender: s(sender),
        },
        EventBody::ThreadFollowChanged {
            conversation,
            root,
            user,
            following,
        } => BodyV1::ThreadFollowChanged {
            conversation: conversation_to_v1(conversation),
            root: root.0,
            user: s(user),
            following: *following,
        },
        EventBody::ThreadRead {
            conversation,
            root,
            reader,
            receipt,
        } => BodyV1::ThreadRead {
            conversation: conversation_to_v1(conversation),
            root: root.0,
            reader: s(reader),
            receipt: *receipt,
        },
        _ => return Err(StoreError::UnsupportedEvent("not a thread event")),
    })
}

/// A stored thread event's body (`Err` for any other: the caller routes only these).
pub(crate) fn from_v1(body: BodyV1) -> Result<EventBody, String> {
    Ok(match body {
        BodyV1::ThreadReplySent {
            conversation,
            root,
            message,
            sender,
        } => EventBody::ThreadReplySent {
            conversation: conversation_from_v1(conversation)?,
            root: MessageId(root),
            message: MessageId(message),
            sender: user(sender)?,
        },
        BodyV1::ThreadFollowChanged {
            conversation,
            root,
            user: who,
            following,
        } => EventBody::ThreadFollowChanged {
            conversation: conversation_from_v1(conversation)?,
            root: MessageId(root),
            user: user(who)?,
            following,
        },
        BodyV1::ThreadRead {
            conversation,
            root,
            reader,
            receipt,
        } => EventBody::ThreadRead {
            conversation: conversation_from_v1(conversation)?,
            root: MessageId(root),
            reader: user(reader)?,
            receipt,
        },
        _ => return Err("not a thread event".into()),
    })
}
