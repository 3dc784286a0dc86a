//! Direct-chat receipts: delivery, a message's read ack, the conversation ack. Only the
//! recipient acknowledges, within retention; a read ack implies delivery.

use super::{emit, existing, Outcome, Outcome::NoOp};
use crate::error::DomainError;
use crate::event::EventBody;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::policy::Policy;
use crate::state::{Conversation, MessageRecord, Seq, State, FLAG_DELIVERED, FLAG_READ_ACKED};

/// The message, checked to exist and to be a direct message.
fn direct_message(
    state: &State,
    message: MessageId,
) -> Result<(&Conversation, &MessageRecord, Seq), DomainError> {
    let found = existing(state, message)?;
    if found.0.id.is_group() {
        return Err(DomainError::NotADirectMessage(message));
    }
    Ok(found)
}

/// Only the recipient of a direct message may acknowledge it, within retention.
fn check_direct_recipient(
    state: &State,
    policy: &Policy,
    conv: &Conversation,
    record: &MessageRecord,
    message: MessageId,
    user: &UserId,
    at_ms: u64,
) -> Result<(), DomainError> {
    let sender = state.user_id(record.sender);
    if sender == user {
        return Err(DomainError::OwnMessage {
            user: user.clone(),
            message,
        });
    }
    if conv.id.peer_of(sender) != Some(user) {
        return Err(DomainError::NotARecipient {
            user: user.clone(),
            message,
        });
    }
    let age_ms = at_ms.saturating_sub(record.sent_at_ms);
    match policy.message_retention_ms {
        Some(retention_ms) if age_ms > retention_ms => Err(DomainError::MessageExpired {
            message,
            age_ms,
            retention_ms,
        }),
        _ => Ok(()),
    }
}

fn is_read_acked(
    state: &State,
    conv: &Conversation,
    record: &MessageRecord,
    seq: Seq,
    user: &UserId,
) -> bool {
    record.has(FLAG_READ_ACKED)
        || state
            .reader(conv, user)
            .is_some_and(|r| seq < r.ack_watermark)
}

pub(super) fn deliver(
    state: &State,
    policy: &Policy,
    message: MessageId,
    recipient: &UserId,
    at_ms: u64,
) -> Result<Outcome, DomainError> {
    let (conv, record, seq) = match direct_message(state, message) {
        Err(DomainError::NotADirectMessage(_)) => {
            return Err(DomainError::GroupDeliveryUnsupported)
        }
        other => other?,
    };
    if !policy.require_delivery_ack {
        return Err(DomainError::DeliveryAcksDisabled);
    }
    check_direct_recipient(state, policy, conv, record, message, recipient, at_ms)?;
    // A read ack implies delivery: the sender already knows, so a late delivery changes nothing.
    if record.has(FLAG_DELIVERED) || is_read_acked(state, conv, record, seq, recipient) {
        return Ok(NoOp);
    }
    emit(EventBody::Delivered {
        conversation: conv.id.clone(),
        message,
        recipient: recipient.clone(),
    })
}

pub(super) fn ack_message(
    state: &State,
    policy: &Policy,
    message: MessageId,
    reader: &UserId,
    at_ms: u64,
) -> Result<Outcome, DomainError> {
    let (conv, record, seq) = direct_message(state, message)?;
    if !policy.require_read_ack {
        return Err(DomainError::ReadAcksDisabled);
    }
    check_direct_recipient(state, policy, conv, record, message, reader, at_ms)?;
    if is_read_acked(state, conv, record, seq, reader) {
        return Ok(NoOp);
    }
    emit(EventBody::ReadAcked {
        conversation: conv.id.clone(),
        message,
        reader: reader.clone(),
    })
}

/// The checks of a direct chat's conversation ack: the conversation and the reader's peer.
pub(super) fn ack_conversation_checks<'s>(
    state: &'s State,
    policy: &Policy,
    conversation: &'s ConversationId,
    reader: &UserId,
) -> Result<(&'s Conversation, &'s UserId), DomainError> {
    if conversation.is_group() {
        return Err(DomainError::ConversationAckDirectOnly);
    }
    if !policy.require_read_ack {
        return Err(DomainError::ReadAcksDisabled);
    }
    let Some(peer) = conversation.peer_of(reader) else {
        return Err(DomainError::NotAParticipant {
            user: reader.clone(),
        });
    };
    let Some(conv) = state.conversation(conversation) else {
        return Err(DomainError::UnknownConversation(conversation.clone()));
    };
    Ok((conv, peer))
}

pub(super) fn ack_conversation(
    state: &State,
    policy: &Policy,
    conversation: &ConversationId,
    reader: &UserId,
) -> Result<Outcome, DomainError> {
    let (conv, _) = ack_conversation_checks(state, policy, conversation, reader)?;
    let unacked = state
        .reader(conv, reader)
        .map_or(0, |r| r.unacked_from_peer);
    if unacked == 0 {
        return Ok(NoOp);
    }
    emit(EventBody::ConversationAcked {
        conversation: conversation.clone(),
        reader: reader.clone(),
    })
}
