//! Read acks that arrive before their message (reordered delivery): held in the conversation,
//! bounded by `Policy::max_early_acks_per_conversation`, and applied, or dropped with a reason,
//! when the message comes; one past `Policy::early_ack_ttl_ms` is dropped as expired.

use super::{ack_group_message, ack_message, Outcome};
use crate::error::DomainError;
use crate::event::{EarlyAckDropReason, EventBody, GroupAck};
use crate::held_acks::HeldEarlyAcks;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::policy::Policy;
use crate::state::{EarlyAck, State};

/// An `AckMessageReadIn` command.
pub(super) struct AckIn<'a> {
    pub(super) conversation: &'a ConversationId,
    pub(super) message: MessageId,
    pub(super) reader: &'a UserId,
    pub(super) at_ms: u64,
    /// Read acks held in the whole store (`None`: `state` is the whole store; count there).
    pub(super) held_total: Option<u64>,
}

/// `AckMessageReadIn`: the single ack when the message is known, else the ack held.
pub(super) fn ack_in(
    state: &State,
    policy: &Policy,
    command: AckIn<'_>,
) -> Result<Outcome, DomainError> {
    let AckIn {
        conversation,
        message,
        reader,
        at_ms,
        held_total,
    } = command;
    if let Some((conv, _, _)) = state.message(&message) {
        if &conv.id != conversation {
            return Err(DomainError::MessageNotInConversation {
                message,
                conversation: conversation.clone(),
            });
        }
        return if conversation.is_group() {
            ack_group_message(state, policy, message, reader, at_ms)
        } else {
            ack_message(state, policy, message, reader, at_ms)
        };
    }
    if state.replies.contains_key(&message) {
        return Err(match state.not_a_message_of(message, conversation) {
            DomainError::UnknownMessage(_) => DomainError::ThreadReply(message),
            other => other,
        });
    }
    if !policy.require_read_ack {
        return Err(DomainError::ReadAcksDisabled);
    }
    let conv = state.conversation(conversation);
    match conversation {
        ConversationId::Direct { .. } => {
            if conversation.peer_of(reader).is_none() {
                return Err(DomainError::NotAParticipant {
                    user: reader.clone(),
                });
            }
        }
        ConversationId::Group(group) => {
            if !policy.group_read_receipts {
                return Err(DomainError::GroupReadReceiptsDisabled);
            }
            let member = conv
                .and_then(|c| state.reader(c, reader))
                .is_some_and(|r| r.is_current());
            if !member {
                return Err(DomainError::NotAMember {
                    user: reader.clone(),
                    group: group.clone(),
                });
            }
        }
    }
    let held = conv.map_or(&[][..], |c| &c.early_acks[..]);
    let reader_idx = state.user_idx(reader);
    if held
        .iter()
        .any(|e| e.message == message && Some(e.reader) == reader_idx)
    {
        return Ok(Outcome::NoOp);
    }
    let held_total = held_total.unwrap_or_else(|| HeldEarlyAcks::of(state).total());
    let per_conversation_full = held.len() >= policy.max_early_acks_per_conversation as usize;
    let total_full = held_total >= u64::from(policy.max_early_acks_total);
    let mut bodies = Vec::new();
    if per_conversation_full || total_full {
        // Full: the conversation's expired ones make room, and are said to be dropped.
        bodies = expired_in(state, conversation, held, at_ms);
        if held.len() - bodies.len() >= policy.max_early_acks_per_conversation as usize {
            return Err(DomainError::EarlyAckBufferFull {
                conversation: conversation.clone(),
                max: policy.max_early_acks_per_conversation,
            });
        }
        if held_total - bodies.len() as u64 >= u64::from(policy.max_early_acks_total) {
            return Err(DomainError::EarlyAcksFull {
                max_total: policy.max_early_acks_total,
            });
        }
    }
    bodies.push(EventBody::ReadAckBuffered {
        conversation: conversation.clone(),
        message,
        reader: reader.clone(),
        expires_at_ms: at_ms.saturating_add(policy.early_ack_ttl_ms),
    });
    Ok(Outcome::EmitMany(bodies, None))
}

/// The `EarlyAckDropped` events of the acks in `held` (those of `conversation`) whose time to
/// live has passed at `at_ms`.
fn expired_in(
    state: &State,
    conversation: &ConversationId,
    held: &[EarlyAck],
    at_ms: u64,
) -> Vec<EventBody> {
    held.iter()
        .filter(|e| e.expires_at_ms < at_ms)
        .map(|e| EventBody::EarlyAckDropped {
            conversation: conversation.clone(),
            message: e.message,
            reader: state.user_id(e.reader).clone(),
            reason: EarlyAckDropReason::Expired,
        })
        .collect()
}

/// `ExpireEarlyAcks`: every held ack of the conversation past its time to live, dropped.
pub(super) fn expire(state: &State, conversation: &ConversationId, at_ms: u64) -> Outcome {
    let held = state
        .conversation(conversation)
        .map_or(&[][..], |c| &c.early_acks[..]);
    let bodies = expired_in(state, conversation, held, at_ms);
    if bodies.is_empty() {
        Outcome::NoOp
    } else {
        Outcome::EmitMany(bodies, None)
    }
}

/// A send, followed by the held acks of its message: each applied as the single ack would be
/// (now that the message exists), or dropped with the reason.
pub(super) fn with_held_acks(state: &State, policy: &Policy, sent: Outcome, at_ms: u64) -> Outcome {
    let Outcome::Emit(
        EventBody::MessageSent {
            conversation,
            message,
            sender,
            group_ack,
        },
        _,
    ) = &sent
    else {
        return sent;
    };
    let Some(conv) = state.conversation(conversation) else {
        return sent;
    };
    let mut bodies = Vec::new();
    for e in conv.early_acks.iter().filter(|e| e.message == *message) {
        let reader = state.user_id(e.reader).clone();
        let current = conv.readers.get(&e.reader).is_some_and(|r| r.is_current());
        let dropped = |reason| EventBody::EarlyAckDropped {
            conversation: conversation.clone(),
            message: *message,
            reader: reader.clone(),
            reason,
        };
        let body = if at_ms > e.expires_at_ms {
            dropped(EarlyAckDropReason::Expired)
        } else if &reader == sender {
            dropped(EarlyAckDropReason::OwnMessage)
        } else if !policy.require_read_ack {
            dropped(EarlyAckDropReason::ReadAcksDisabled)
        } else {
            match conversation {
                ConversationId::Direct { .. } if conversation.peer_of(sender) != Some(&reader) => {
                    dropped(EarlyAckDropReason::NotARecipient)
                }
                ConversationId::Direct { .. } => EventBody::ReadAcked {
                    conversation: conversation.clone(),
                    message: *message,
                    reader: reader.clone(),
                },
                ConversationId::Group(_) if !policy.group_read_receipts => {
                    dropped(EarlyAckDropReason::ReadAcksDisabled)
                }
                ConversationId::Group(_) if !current => dropped(EarlyAckDropReason::NotARecipient),
                ConversationId::Group(_) if *group_ack != GroupAck::Enabled => {
                    dropped(EarlyAckDropReason::GroupAckNotRequested)
                }
                ConversationId::Group(group) => EventBody::GroupReadAcked {
                    group: group.clone(),
                    message: *message,
                    reader: reader.clone(),
                },
            }
        };
        bodies.push(body);
    }
    if bodies.is_empty() {
        return sent;
    }
    let Outcome::Emit(sent, note) = sent else {
        return Outcome::NoOp; // unreachable: matched above
    };
    bodies.insert(0, sent);
    Outcome::EmitMany(bodies, note)
}
