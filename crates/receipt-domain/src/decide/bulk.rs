//! Batch and bulk decisions: several read acks of one conversation, a group created with its
//! roster, many members added or removed. Each is the single commands it stands for, decided
//! against the same state (the items are independent: acking one message or adding one user
//! never changes the decision for another), all or nothing: the first item that the single
//! command would refuse refuses the whole command, and items already done are skipped.
//! O(items named): nothing here walks a conversation or a roster.

use super::membership::{join, leave};
use super::{ack_group_message, ack_message, group_conversation, Outcome};
use crate::error::DomainError;
use crate::event::{EventBody, Role};
use crate::ids::{ConversationId, GroupId, MessageId, UserId};
use crate::policy::Policy;
use crate::state::State;
use rustc_hash::FxHashSet;
use std::hash::Hash;

/// Checks the number of items named (duplicates included) against `max`.
pub(super) fn check_size<T>(items: &[T], min: usize, max: u32) -> Result<(), DomainError> {
    let count = items.len();
    if count < min || u32::try_from(count).map_or(true, |n| n > max) {
        return Err(DomainError::BatchSize { count, max });
    }
    Ok(())
}

/// The items in order, each named once.
pub(super) fn distinct<T: Eq + Hash + Clone>(items: &[T]) -> Vec<T> {
    let mut seen = FxHashSet::default();
    items
        .iter()
        .filter(|i| seen.insert((*i).clone()))
        .cloned()
        .collect()
}

/// The events of the single outcomes (skipping the no-ops), or a no-op if every one was.
fn gather(outcomes: Vec<Outcome>) -> Outcome {
    let bodies: Vec<EventBody> = outcomes
        .into_iter()
        .flat_map(|o| match o {
            Outcome::Emit(body, _) => vec![body],
            Outcome::EmitMany(bodies, _) => bodies,
            Outcome::NoOp => Vec::new(),
        })
        .collect();
    if bodies.is_empty() {
        Outcome::NoOp
    } else {
        Outcome::EmitMany(bodies, None)
    }
}

pub(super) fn ack_messages(
    state: &State,
    policy: &Policy,
    conversation: &ConversationId,
    messages: &[MessageId],
    reader: &UserId,
    at_ms: u64,
) -> Result<Outcome, DomainError> {
    check_size(messages, 1, policy.max_messages_per_ack)?;
    let mut outcomes = Vec::new();
    for message in distinct(messages) {
        let (conv, _, _) = state
            .message(&message)
            .ok_or_else(|| state.not_a_message_of(message, conversation))?;
        if &conv.id != conversation {
            return Err(DomainError::MessageNotInConversation {
                message,
                conversation: conversation.clone(),
            });
        }
        outcomes.push(if conversation.is_group() {
            ack_group_message(state, policy, message, reader, at_ms)?
        } else {
            ack_message(state, policy, message, reader, at_ms)?
        });
    }
    Ok(gather(outcomes))
}

pub(super) fn create_group(
    state: &State,
    policy: &Policy,
    group: &GroupId,
    owner: &UserId,
    members: &[UserId],
) -> Result<Outcome, DomainError> {
    check_size(members, 0, policy.max_members_per_command)?;
    if group_conversation(state, group).is_some() {
        return Err(DomainError::GroupExists(group.clone()));
    }
    let mut outcomes = vec![join(state, group, owner, Role::Owner)?];
    for user in distinct(members).iter().filter(|u| *u != owner) {
        outcomes.push(join(state, group, user, Role::Member)?);
    }
    Ok(gather(outcomes))
}

pub(super) fn add_members(
    state: &State,
    policy: &Policy,
    group: &GroupId,
    users: &[UserId],
    role: Role,
) -> Result<Outcome, DomainError> {
    check_size(users, 1, policy.max_members_per_command)?;
    let conv = group_conversation(state, group);
    let mut outcomes = Vec::new();
    for user in distinct(users) {
        // A current member keeps the role they have (changing it is `SetRole`).
        let current = conv
            .and_then(|c| state.reader(c, &user))
            .is_some_and(|r| r.is_current());
        if !current {
            outcomes.push(join(state, group, &user, role)?);
        }
    }
    Ok(gather(outcomes))
}

pub(super) fn remove_members(
    state: &State,
    policy: &Policy,
    group: &GroupId,
    users: &[UserId],
) -> Result<Outcome, DomainError> {
    check_size(users, 1, policy.max_members_per_command)?;
    let mut outcomes = Vec::new();
    for user in distinct(users) {
        outcomes.push(leave(state, group, &user)?);
    }
    Ok(gather(outcomes))
}
