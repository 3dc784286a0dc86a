//! "Read up to message X": conversation acks and mark-read with a position. The checks of the
//! conversation-wide commands, then the position (a message of this conversation), then a
//! no-op when nothing at or before it is left to read or to acknowledge.

use super::{ack_conversation_checks, mark_conversation_checks, Outcome};
use crate::error::DomainError;
use crate::event::EventBody;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::policy::Policy;
use crate::state::{Conversation, Seq, State};

/// The position `up_to`: a message of `conversation`.
fn position<'s>(
    state: &'s State,
    conversation: &ConversationId,
    up_to: MessageId,
) -> Result<(&'s Conversation, Seq), DomainError> {
    let (conv, _, seq) = state
        .message(&up_to)
        .ok_or_else(|| state.not_a_message_of(up_to, conversation))?;
    if &conv.id != conversation {
        return Err(DomainError::MessageNotInConversation {
            message: up_to,
            conversation: conversation.clone(),
        });
    }
    Ok((conv, seq))
}

pub(super) fn ack_up_to(
    state: &State,
    policy: &Policy,
    conversation: &ConversationId,
    reader: &UserId,
    up_to: MessageId,
) -> Result<Outcome, DomainError> {
    let (_, peer) = ack_conversation_checks(state, policy, conversation, reader)?;
    let (conv, last) = position(state, conversation, up_to)?;
    let pending = match (state.user_idx(peer), state.reader(conv, reader)) {
        (Some(p), Some(r)) => conv.unacked_through(p, r, last),
        _ => false,
    };
    if !pending {
        return Ok(Outcome::NoOp);
    }
    Ok(Outcome::Emit(
        EventBody::ConversationAckedUpTo {
            conversation: conversation.clone(),
            reader: reader.clone(),
            up_to,
        },
        None,
    ))
}

pub(super) fn mark_up_to(
    state: &State,
    conversation: &ConversationId,
    reader: &UserId,
    up_to: MessageId,
) -> Result<Outcome, DomainError> {
    let (conv, r) = mark_conversation_checks(state, conversation, reader)?;
    let (_, last) = position(state, conversation, up_to)?;
    let unread = match (state.user_idx(reader), r) {
        (Some(u), Some(r)) => conv.unread_through(u, r, last),
        _ => false,
    };
    if !unread {
        return Ok(Outcome::NoOp);
    }
    Ok(Outcome::Emit(
        EventBody::ConversationMarkedReadUpTo {
            conversation: conversation.clone(),
            reader: reader.clone(),
            up_to,
        },
        None,
    ))
}
