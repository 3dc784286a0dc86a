//! Membership decisions: join, leave, role changes. Membership is history (spec §2): unread
//! counts, permissions, the group-size cap and who may acknowledge all depend on it.

use super::{emit, group_conversation, is_current_member, Outcome, Outcome::NoOp};
use crate::error::DomainError;
use crate::event::{EventBody, Role};
use crate::ids::{GroupId, UserId};
use crate::state::State;

pub(super) fn join(
    state: &State,
    group: &GroupId,
    user: &UserId,
    role: Role,
) -> Result<Outcome, DomainError> {
    let current_role = group_conversation(state, group)
        .and_then(|c| state.reader(c, user))
        .and_then(|r| r.role);
    match current_role {
        None => emit(EventBody::MemberJoined {
            group: group.clone(),
            user: user.clone(),
            role,
        }),
        Some(r) if r == role => Ok(NoOp),
        Some(_) => Err(DomainError::AlreadyMember {
            user: user.clone(),
            group: group.clone(),
        }),
    }
}

pub(super) fn leave(state: &State, group: &GroupId, user: &UserId) -> Result<Outcome, DomainError> {
    match group_conversation(state, group).and_then(|c| state.reader(c, user)) {
        None => Err(DomainError::NotAMember {
            user: user.clone(),
            group: group.clone(),
        }),
        Some(r) if !r.is_current() => Ok(NoOp),
        Some(_) => emit(EventBody::MemberLeft {
            group: group.clone(),
            user: user.clone(),
        }),
    }
}

pub(super) fn set_role(
    state: &State,
    group: &GroupId,
    user: &UserId,
    role: Role,
) -> Result<Outcome, DomainError> {
    let conv = group_conversation(state, group);
    if !is_current_member(state, conv, user) {
        return Err(DomainError::NotAMember {
            user: user.clone(),
            group: group.clone(),
        });
    }
    let current = conv
        .and_then(|c| state.reader(c, user))
        .and_then(|r| r.role);
    if current == Some(role) {
        return Ok(NoOp);
    }
    emit(EventBody::MemberRoleChanged {
        group: group.clone(),
        user: user.clone(),
        role,
    })
}
