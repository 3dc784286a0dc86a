//! `decide`: checks a command against the state and the policy, and turns it into events or a
//! typed error. Pure: no clock (the command carries its time), no randomness (event ids derive
//! from the command id), no I/O.
//!
//! The order of the checks in each function is part of the contract (docs/semantics.md): when a
//! command breaks several rules, the first one listed there is the error reported.

use crate::command::{Command, CommandKind};
use crate::error::DomainError;
use crate::event::{Event, EventBody, GroupAck, GroupAckDeclined, Role};
use crate::ids::{ConversationId, GroupId, MessageId, UserId};
use crate::policy::{GroupAckRequesters, Policy};
use crate::state::{Conversation, MessageRecord, ReaderState, Seq, State, FLAG_RECALLED};

mod bulk;
mod direct;
mod early_ack;
mod membership;
mod mention;
mod recall;
mod thread;
mod up_to;
use direct::{ack_conversation, ack_conversation_checks, ack_message, deliver};
use membership::{join, leave, set_role};

/// What a decided command amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The facts to append, in order (empty when the command repeats something already done).
    pub events: Vec<Event>,
    /// What the caller should know beyond the events.
    pub note: Option<Note>,
}

/// What an accepted command's caller should know beyond its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Note {
    /// The command repeats something that already happened: nothing to record, nobody to tell.
    AlreadyDone,
    /// The message was sent, but without group read receipts, for this reason.
    GroupAckDeclined(GroupAckDeclined),
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AlreadyDone => f.write_str("already done; nothing changed"),
            Self::GroupAckDeclined(why) => {
                write!(f, "message sent, but group read receipts declined: {why}")
            }
        }
    }
}

impl Note {
    /// The note a decision that recorded `events` carried: a function of the events, so a
    /// retried command can be answered with its original note from the log alone.
    pub fn of_recorded(events: &[Event]) -> Option<Self> {
        events.iter().find_map(|e| match &e.body {
            EventBody::MessageSent {
                group_ack: GroupAck::Declined(why),
                ..
            } => Some(Self::GroupAckDeclined(*why)),
            _ => None,
        })
    }
}

impl Decision {
    fn no_op() -> Self {
        Self {
            events: Vec::new(),
            note: Some(Note::AlreadyDone),
        }
    }
}

enum Outcome {
    Emit(EventBody, Option<Note>),
    /// Several events, one atomic append (batch and bulk commands, a send with mentions).
    EmitMany(Vec<EventBody>, Option<Note>),
    NoOp,
}

use Outcome::{Emit, EmitMany, NoOp};

fn emit(body: EventBody) -> Result<Outcome, DomainError> {
    Ok(Emit(body, None))
}

/// Decides a command against the current state and policy, `state` being the whole store (the
/// read acks it holds for messages not sent yet are all the store holds).
pub fn decide(state: &State, policy: &Policy, command: &Command) -> Result<Decision, DomainError> {
    decide_with(state, policy, command, None)
}

/// Decides a command against one partition of a store: `state` holds the conversation the
/// command concerns, and `held_early_acks_total` is how many read acks the whole store holds
/// for messages not sent yet (which a partition alone cannot know; see [`HeldEarlyAcks`]).
///
/// [`HeldEarlyAcks`]: crate::HeldEarlyAcks
pub fn decide_in_store(
    state: &State,
    policy: &Policy,
    command: &Command,
    held_early_acks_total: u64,
) -> Result<Decision, DomainError> {
    decide_with(state, policy, command, Some(held_early_acks_total))
}

/// `held_total`: the store's held read acks, or `None` to count them in `state` (only when a
/// command would hold one, so whole-state decisions pay for the count only then).
fn decide_with(
    state: &State,
    policy: &Policy,
    command: &Command,
    held_total: Option<u64>,
) -> Result<Decision, DomainError> {
    policy.validate()?;
    let at_ms = command.at_ms;
    let outcome = match &command.kind {
        CommandKind::SendMessage {
            conversation,
            message,
            sender,
            needs_group_ack,
        } => send(
            state,
            policy,
            conversation,
            *message,
            sender,
            *needs_group_ack,
        )
        .map(|sent| early_ack::with_held_acks(state, policy, sent, at_ms)),
        CommandKind::Deliver { message, recipient } => {
            deliver(state, policy, *message, recipient, at_ms)
        }
        CommandKind::AckMessageRead { message, reader } => {
            ack_message(state, policy, *message, reader, at_ms)
        }
        CommandKind::AckConversationRead {
            conversation,
            reader,
        } => ack_conversation(state, policy, conversation, reader),
        CommandKind::AckGroupMessageRead { message, reader } => {
            ack_group_message(state, policy, *message, reader, at_ms)
        }
        CommandKind::MarkMessageRead { message, reader } => mark_message(state, *message, reader),
        CommandKind::MarkConversationRead {
            conversation,
            reader,
        } => mark_conversation(state, conversation, reader),
        CommandKind::JoinGroup { group, user, role } => join(state, group, user, *role),
        CommandKind::LeaveGroup { group, user } => leave(state, group, user),
        CommandKind::SetRole { group, user, role } => set_role(state, group, user, *role),
        CommandKind::AckMessagesRead {
            conversation,
            messages,
            reader,
        } => bulk::ack_messages(state, policy, conversation, messages, reader, at_ms),
        CommandKind::CreateGroup {
            group,
            owner,
            members,
        } => bulk::create_group(state, policy, group, owner, members),
        CommandKind::AddMembers { group, users, role } => {
            bulk::add_members(state, policy, group, users, *role)
        }
        CommandKind::RemoveMembers { group, users } => {
            bulk::remove_members(state, policy, group, users)
        }
        CommandKind::RecallMessage { message, by } => {
            recall::recall(state, policy, *message, by, at_ms)
        }
        CommandKind::SendMessageMentioning {
            conversation,
            message,
            sender,
            needs_group_ack,
            mentions,
            mention_all,
        } => mention::send_mentioning(
            state,
            policy,
            mention::Mentioning {
                conversation,
                message: *message,
                sender,
                needs_group_ack: *needs_group_ack,
                mentions,
                mention_all: *mention_all,
                at_ms,
            },
        ),
        CommandKind::AckMessageReadIn {
            conversation,
            message,
            reader,
        } => early_ack::ack_in(
            state,
            policy,
            early_ack::AckIn {
                conversation,
                message: *message,
                reader,
                at_ms,
                held_total,
            },
        ),
        CommandKind::ExpireEarlyAcks { conversation } => {
            Ok(early_ack::expire(state, conversation, at_ms))
        }
        CommandKind::SendThreadReply {
            conversation,
            root,
            message,
            sender,
        } => thread::reply(state, conversation, *root, *message, sender),
        CommandKind::FollowThread {
            conversation,
            root,
            user,
        } => thread::follow(state, conversation, *root, user, true),
        CommandKind::UnfollowThread {
            conversation,
            root,
            user,
        } => thread::follow(state, conversation, *root, user, false),
        CommandKind::MarkThreadRead {
            conversation,
            root,
            reader,
        } => thread::read(state, policy, conversation, *root, reader, false),
        CommandKind::AckThreadRead {
            conversation,
            root,
            reader,
        } => thread::read(state, policy, conversation, *root, reader, true),
        CommandKind::SetNotificationMode {
            conversation,
            user,
            mode,
        } => mention::set_mode(state, conversation, user, *mode),
        CommandKind::AckConversationReadUpTo {
            conversation,
            reader,
            up_to,
        } => up_to::ack_up_to(state, policy, conversation, reader, *up_to),
        CommandKind::MarkConversationReadUpTo {
            conversation,
            reader,
            up_to,
        } => up_to::mark_up_to(state, conversation, reader, *up_to),
    }?;
    Ok(match outcome {
        NoOp => Decision::no_op(),
        Emit(body, note) => Decision {
            events: vec![Event {
                id: command.id.event_id(0),
                at_ms,
                body,
            }],
            note,
        },
        EmitMany(bodies, note) => Decision {
            events: bodies
                .into_iter()
                .zip(0u32..)
                .map(|(body, i)| Event {
                    id: command.id.event_id(i),
                    at_ms,
                    body,
                })
                .collect(),
            note,
        },
    })
}

fn group_conversation<'s>(state: &'s State, group: &GroupId) -> Option<&'s Conversation> {
    state.conversation(&ConversationId::Group(group.clone()))
}

fn is_current_member(state: &State, conv: Option<&Conversation>, user: &UserId) -> bool {
    conv.and_then(|c| state.reader(c, user))
        .is_some_and(|r| r.is_current())
}

fn send(
    state: &State,
    policy: &Policy,
    conversation: &ConversationId,
    message: MessageId,
    sender: &UserId,
    needs_group_ack: bool,
) -> Result<Outcome, DomainError> {
    if let Some((conv, record, _)) = state.message(&message) {
        // A retried send (same id, conversation and sender) is a duplicate, not a conflict.
        return if &conv.id == conversation && state.user_id(record.sender) == sender {
            Ok(NoOp)
        } else {
            Err(DomainError::MessageIdInUse(message))
        };
    }
    if state.replies.contains_key(&message) {
        return Err(DomainError::MessageIdInUse(message));
    }
    let group_ack = match conversation {
        ConversationId::Direct { .. } => {
            if conversation.peer_of(sender).is_none() {
                return Err(DomainError::NotAParticipant {
                    user: sender.clone(),
                });
            }
            if needs_group_ack {
                GroupAck::Declined(GroupAckDeclined::NotAGroup)
            } else {
                GroupAck::NotRequested
            }
        }
        ConversationId::Group(group) => {
            let conv = group_conversation(state, group);
            let role = conv
                .and_then(|c| state.reader(c, sender))
                .and_then(|r| r.role)
                .ok_or_else(|| DomainError::NotAMember {
                    user: sender.clone(),
                    group: group.clone(),
                })?;
            let members = conv.map_or(0, |c| c.member_count);
            if !needs_group_ack {
                GroupAck::NotRequested
            } else if !policy.require_read_ack {
                GroupAck::Declined(GroupAckDeclined::ReadAcksDisabled)
            } else if !policy.group_read_receipts {
                GroupAck::Declined(GroupAckDeclined::FeatureDisabled)
            } else if policy.group_ack_requesters == GroupAckRequesters::OwnerAndAdmins
                && role == Role::Member
            {
                GroupAck::Declined(GroupAckDeclined::SenderNotPermitted)
            } else if members > policy.max_group_size {
                GroupAck::Declined(GroupAckDeclined::GroupTooLarge {
                    members,
                    max_group_size: policy.max_group_size,
                })
            } else {
                GroupAck::Enabled
            }
        }
    };
    let note = match group_ack {
        GroupAck::Declined(why) => Some(Note::GroupAckDeclined(why)),
        _ => None,
    };
    Ok(Emit(
        EventBody::MessageSent {
            conversation: conversation.clone(),
            message,
            sender: sender.clone(),
            group_ack,
        },
        note,
    ))
}

/// The message, checked to exist and not to be recalled (nothing can happen to a recalled
/// message but its recall being repeated).
fn existing(
    state: &State,
    message: MessageId,
) -> Result<(&Conversation, &MessageRecord, Seq), DomainError> {
    let found = state
        .message(&message)
        .ok_or(DomainError::UnknownMessage(message))?;
    if found.1.has(FLAG_RECALLED) {
        return Err(DomainError::MessageRecalled(message));
    }
    Ok(found)
}

fn ack_group_message(
    state: &State,
    policy: &Policy,
    message: MessageId,
    reader: &UserId,
    at_ms: u64,
) -> Result<Outcome, DomainError> {
    let (conv, record, seq) = existing(state, message)?;
    let ConversationId::Group(group) = &conv.id else {
        return Err(DomainError::NotAGroupMessage(message));
    };
    if !policy.require_read_ack {
        return Err(DomainError::ReadAcksDisabled);
    }
    if !policy.group_read_receipts {
        return Err(DomainError::GroupReadReceiptsDisabled);
    }
    if !record.has(crate::state::FLAG_GROUP_ACK) {
        return Err(DomainError::GroupAckNotRequested(message));
    }
    if state.user_id(record.sender) == reader {
        return Err(DomainError::OwnMessage {
            user: reader.clone(),
            message,
        });
    }
    let r = state
        .reader(conv, reader)
        .filter(|r| r.is_current())
        .ok_or_else(|| DomainError::NotAMember {
            user: reader.clone(),
            group: group.clone(),
        })?;
    if !r.is_eligible(seq) {
        return Err(DomainError::NotARecipient {
            user: reader.clone(),
            message,
        });
    }
    if at_ms < record.sent_at_ms {
        return Err(DomainError::AckBeforeSend {
            message,
            at_ms,
            sent_at_ms: record.sent_at_ms,
        });
    }
    let age_ms = at_ms - record.sent_at_ms;
    if age_ms > policy.group_ack_validity_ms {
        return Err(DomainError::AckExpired {
            message,
            age_ms,
            validity_ms: policy.group_ack_validity_ms,
        });
    }
    // Bounded by the acks this message has, itself capped by max_group_size at send time.
    let reader_idx = state.user_idx(reader);
    if reader_idx.is_some_and(|u| record.group_acked_by(u)) {
        return Ok(NoOp);
    }
    emit(EventBody::GroupReadAcked {
        group: group.clone(),
        message,
        reader: reader.clone(),
    })
}

fn mark_message(
    state: &State,
    message: MessageId,
    reader: &UserId,
) -> Result<Outcome, DomainError> {
    let (conv, record, seq) = existing(state, message)?;
    if state.user_id(record.sender) == reader {
        return Ok(NoOp); // One's own message is always read.
    }
    let r = state
        .reader(conv, reader)
        .filter(|r| r.is_eligible(seq))
        .ok_or_else(|| DomainError::NotARecipient {
            user: reader.clone(),
            message,
        })?;
    if r.has_read(seq) {
        return Ok(NoOp);
    }
    emit(EventBody::MessageMarkedRead {
        conversation: conv.id.clone(),
        message,
        reader: reader.clone(),
    })
}

/// The checks of a conversation-wide read: the conversation and the reader's read state there.
fn mark_conversation_checks<'s>(
    state: &'s State,
    conversation: &ConversationId,
    reader: &UserId,
) -> Result<(&'s Conversation, Option<&'s ReaderState>), DomainError> {
    if !conversation.is_group() && conversation.peer_of(reader).is_none() {
        return Err(DomainError::NotAParticipant {
            user: reader.clone(),
        });
    }
    let Some(c) = state.conversation(conversation) else {
        return Err(DomainError::UnknownConversation(conversation.clone()));
    };
    let r = state.reader(c, reader);
    if let (ConversationId::Group(group), None) = (conversation, r) {
        return Err(DomainError::NotAMember {
            user: reader.clone(),
            group: group.clone(),
        });
    }
    Ok((c, r))
}

fn mark_conversation(
    state: &State,
    conversation: &ConversationId,
    reader: &UserId,
) -> Result<Outcome, DomainError> {
    let (c, r) = mark_conversation_checks(state, conversation, reader)?;
    let unread = match (state.user_idx(reader), r) {
        (Some(u), Some(r)) => c.unread_of(u, r) > 0,
        _ => false,
    };
    if !unread {
        return Ok(NoOp);
    }
    emit(EventBody::ConversationMarkedRead {
        conversation: conversation.clone(),
        reader: reader.clone(),
    })
}
