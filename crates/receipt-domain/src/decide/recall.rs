//! Recall: its sender within the policy's recall window; an owner or admin of the group at any
//! time. A repeated recall is a no-op, so a retried recall never fails.

use super::{emit, Outcome};
use crate::error::DomainError;
use crate::event::{EventBody, Role};
use crate::ids::{MessageId, UserId};
use crate::policy::Policy;
use crate::state::{State, FLAG_RECALLED};

pub(super) fn recall(
    state: &State,
    policy: &Policy,
    message: MessageId,
    by: &UserId,
    at_ms: u64,
) -> Result<Outcome, DomainError> {
    let (conv, record, _) = state
        .message(&message)
        .ok_or(DomainError::UnknownMessage(message))?;
    if record.has(FLAG_RECALLED) {
        return Ok(Outcome::NoOp);
    }
    if state.user_id(record.sender) == by {
        // A command stamped before the send (a clock behind) is not late.
        let age_ms = at_ms.saturating_sub(record.sent_at_ms);
        if age_ms > policy.recall_window_ms {
            return Err(DomainError::RecallWindowExpired {
                message,
                age_ms,
                window_ms: policy.recall_window_ms,
            });
        }
    } else {
        let moderator = conv.id.is_group()
            && state
                .reader(conv, by)
                .and_then(|r| r.role)
                .is_some_and(|role| matches!(role, Role::Owner | Role::Admin));
        if !moderator {
            return Err(DomainError::RecallNotPermitted {
                user: by.clone(),
                message,
            });
        }
    }
    emit(EventBody::MessageRecalled {
        conversation: conv.id.clone(),
        message,
        by: by.clone(),
    })
}
