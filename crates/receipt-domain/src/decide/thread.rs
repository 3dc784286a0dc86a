//! Thread commands: a reply, following and unfollowing, reading a thread (privately or with a
//! receipt). Each check is O(1) but for `ThreadReply`'s lookups; see src/thread.rs for the fold.

use super::Outcome::{self, Emit, NoOp};
use crate::error::DomainError;
use crate::event::EventBody;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::policy::Policy;
use crate::state::{Conversation, State, FLAG_RECALLED};

/// The root of a thread in `conversation`: a message of its own sequence, and, when
/// `growing` (a reply, a new follower), not recalled. A recalled root keeps its thread, which
/// its followers may still read and leave, so no unread reply is stuck there.
fn root_of<'s>(
    state: &'s State,
    conversation: &ConversationId,
    root: MessageId,
    growing: bool,
) -> Result<&'s Conversation, DomainError> {
    let Some((conv, record, _)) = state.message(&root) else {
        return Err(if state.replies.contains_key(&root) {
            DomainError::ThreadReply(root)
        } else {
            DomainError::UnknownMessage(root)
        });
    };
    if &conv.id != conversation {
        return Err(DomainError::MessageNotInConversation {
            message: root,
            conversation: conversation.clone(),
        });
    }
    if growing && record.has(FLAG_RECALLED) {
        return Err(DomainError::MessageRecalled(root));
    }
    Ok(conv)
}

/// `user` takes part in the conversation now: one of the pair, or a current member.
fn participant(state: &State, conv: &Conversation, user: &UserId) -> Result<(), DomainError> {
    match &conv.id {
        ConversationId::Direct { .. } if conv.id.peer_of(user).is_none() => {
            Err(DomainError::NotAParticipant { user: user.clone() })
        }
        ConversationId::Direct { .. } => Ok(()),
        ConversationId::Group(group) => {
            if state.reader(conv, user).is_some_and(|r| r.is_current()) {
                Ok(())
            } else {
                Err(DomainError::NotAMember {
                    user: user.clone(),
                    group: group.clone(),
                })
            }
        }
    }
}

/// `SendThreadReply`.
pub(super) fn reply(
    state: &State,
    conversation: &ConversationId,
    root: MessageId,
    message: MessageId,
    sender: &UserId,
) -> Result<Outcome, DomainError> {
    if state.message(&message).is_some() {
        return Err(DomainError::MessageIdInUse(message));
    }
    if let Some(r) = state.replies.get(&message) {
        // A retried reply (same id, conversation, root and sender) is a duplicate.
        let same = state.thread_of_reply(&message) == Some((conversation.clone(), root))
            && state
                .conversations
                .get(r.conversation as usize)
                .and_then(|c| c.threads.get(&r.root))
                .and_then(|t| t.replies.get(r.index as usize))
                .is_some_and(|reply| state.user_id(reply.sender) == sender);
        return if same {
            Ok(NoOp)
        } else {
            Err(DomainError::MessageIdInUse(message))
        };
    }
    let conv = root_of(state, conversation, root, true)?;
    participant(state, conv, sender)?;
    Ok(Emit(
        EventBody::ThreadReplySent {
            conversation: conversation.clone(),
            root,
            message,
            sender: sender.clone(),
        },
        None,
    ))
}

/// `FollowThread` (`follow`) and `UnfollowThread`.
pub(super) fn follow(
    state: &State,
    conversation: &ConversationId,
    root: MessageId,
    user: &UserId,
    follow: bool,
) -> Result<Outcome, DomainError> {
    let conv = root_of(state, conversation, root, follow)?;
    let (_, r) = state.thread_reader(user, conversation, &root);
    let following = r.following;
    if follow {
        participant(state, conv, user)?;
    }
    if following == follow {
        return Ok(NoOp);
    }
    Ok(Emit(
        EventBody::ThreadFollowChanged {
            conversation: conversation.clone(),
            root,
            user: user.clone(),
            following: follow,
        },
        None,
    ))
}

/// `MarkThreadRead` and (`receipt`) `AckThreadRead`.
pub(super) fn read(
    state: &State,
    policy: &Policy,
    conversation: &ConversationId,
    root: MessageId,
    reader: &UserId,
    receipt: bool,
) -> Result<Outcome, DomainError> {
    if receipt {
        if !policy.require_read_ack {
            return Err(DomainError::ReadAcksDisabled);
        }
        if conversation.is_group() && !policy.group_read_receipts {
            return Err(DomainError::GroupReadReceiptsDisabled);
        }
    }
    let conv = root_of(state, conversation, root, false)?;
    participant(state, conv, reader)?;
    let (len, r) = state.thread_reader(reader, conversation, &root);
    let unread = state.thread_unread_count(reader, conversation, &root);
    if unread == 0 && (!receipt || r.acked_to >= len) {
        return Ok(NoOp);
    }
    Ok(Emit(
        EventBody::ThreadRead {
            conversation: conversation.clone(),
            root,
            reader: reader.clone(),
            receipt,
        },
        None,
    ))
}
