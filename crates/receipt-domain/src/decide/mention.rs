//! Sends that mention users, and notification modes (mute, mentions only).

use super::bulk::{check_size, distinct};
use super::early_ack::with_held_acks;
use super::{send, Outcome};
use crate::error::DomainError;
use crate::event::{EventBody, NotificationMode};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::policy::Policy;
use crate::state::State;

/// A send, then its mentions: each user named once, each a recipient (the peer of a direct
/// chat; a current member of a group other than the sender). A repeated send is a no-op, its
/// mentions recorded the first time.
pub(super) struct Mentioning<'a> {
    pub(super) conversation: &'a ConversationId,
    pub(super) message: MessageId,
    pub(super) sender: &'a UserId,
    pub(super) needs_group_ack: bool,
    pub(super) mentions: &'a [UserId],
    pub(super) mention_all: bool,
    pub(super) at_ms: u64,
}

pub(super) fn send_mentioning(
    state: &State,
    policy: &Policy,
    m: Mentioning<'_>,
) -> Result<Outcome, DomainError> {
    let sent = send(
        state,
        policy,
        m.conversation,
        m.message,
        m.sender,
        m.needs_group_ack,
    )?;
    if matches!(sent, Outcome::NoOp) {
        return Ok(sent); // a repeated send
    }
    // The send and the held acks of its message, then the mentions.
    let (mut bodies, note) = match with_held_acks(state, policy, sent, m.at_ms) {
        Outcome::Emit(body, note) => (vec![body], note),
        Outcome::EmitMany(bodies, note) => (bodies, note),
        Outcome::NoOp => return Ok(Outcome::NoOp),
    };
    check_size(m.mentions, 0, policy.max_members_per_command)?;
    let users = distinct(m.mentions);
    for user in &users {
        let recipient = match m.conversation {
            ConversationId::Direct { .. } => m.conversation.peer_of(m.sender) == Some(user),
            ConversationId::Group(_) => {
                user != m.sender
                    && state
                        .conversation(m.conversation)
                        .and_then(|c| state.reader(c, user))
                        .is_some_and(|r| r.is_current())
            }
        };
        if !recipient {
            return Err(DomainError::NotARecipient {
                user: user.clone(),
                message: m.message,
            });
        }
    }
    if !users.is_empty() || m.mention_all {
        bodies.push(EventBody::UsersMentioned {
            conversation: m.conversation.clone(),
            message: m.message,
            users,
            everyone: m.mention_all,
        });
    }
    Ok(match bodies.len() {
        1 => Outcome::Emit(bodies.remove(0), note),
        _ => Outcome::EmitMany(bodies, note),
    })
}

/// A participant's notification mode: the pair of a direct chat; anyone who was ever a member
/// of a group (one who left keeps their read state, and may mute it).
pub(super) fn set_mode(
    state: &State,
    conversation: &ConversationId,
    user: &UserId,
    mode: NotificationMode,
) -> Result<Outcome, DomainError> {
    if !conversation.is_group() && conversation.peer_of(user).is_none() {
        return Err(DomainError::NotAParticipant { user: user.clone() });
    }
    let Some(c) = state.conversation(conversation) else {
        return Err(DomainError::UnknownConversation(conversation.clone()));
    };
    let Some(r) = state.reader(c, user) else {
        return Err(match conversation {
            ConversationId::Group(group) => DomainError::NotAMember {
                user: user.clone(),
                group: group.clone(),
            },
            // Unreachable: both users of a direct chat have read state from its first message.
            ConversationId::Direct { .. } => DomainError::NotAParticipant { user: user.clone() },
        });
    };
    if r.mode == mode {
        return Ok(Outcome::NoOp);
    }
    Ok(Outcome::Emit(
        EventBody::NotificationModeChanged {
            conversation: conversation.clone(),
            user: user.clone(),
            mode,
        },
        None,
    ))
}
