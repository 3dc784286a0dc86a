//! The reference model: the spec written the obvious way, with plain ordered maps and sets and
//! fan-out wherever it is convenient (every message stores its recipients; a conversation-wide
//! read inserts one entry per message). Slow and simple on purpose: the engine is checked against it.

use receipt_domain::*;
use std::collections::{BTreeMap, BTreeSet};

#[path = "model_batch.rs"]
mod batch;
#[path = "model_early_ack.rs"]
mod early_ack;
#[path = "model_lists.rs"]
mod lists;
#[path = "model_mention.rs"]
mod mention;
#[path = "model_queries.rs"]
mod queries;
#[path = "model_recall.rs"]
mod recall;
#[path = "model_thread.rs"]
mod thread;
#[path = "model_up_to.rs"]
mod up_to;

#[derive(Debug, Clone)]
struct Msg {
    conversation: ConversationId,
    sender: UserId,
    at_ms: u64,
    group_ack: bool,
    /// Who may read/ack it: the peer (direct), or the members at send time but the sender (group).
    recipients: BTreeSet<UserId>,
    acks: Vec<(UserId, u64)>,
    /// Recalled: in nobody's unread count, no longer readable or acknowledgeable.
    recalled: bool,
    /// Users mentioned by name, and whether everyone is.
    mentions: BTreeSet<UserId>,
    mention_all: bool,
}

/// What a command did, as far as the outside can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    pub changed: bool,
    pub note: Option<Note>,
    pub notifications: Vec<Notification>,
}

#[derive(Debug, Clone, Default)]
pub struct Model {
    msgs: BTreeMap<MessageId, Msg>,
    order: BTreeMap<ConversationId, Vec<MessageId>>,
    roster: BTreeMap<GroupId, BTreeMap<UserId, Role>>,
    ever_member: BTreeSet<(GroupId, UserId)>,
    read: BTreeSet<(UserId, MessageId)>,
    read_acked: BTreeSet<MessageId>,
    /// When each direct message's read receipt was recorded (the first ack that covered it).
    read_acked_at: BTreeMap<MessageId, u64>,
    delivered: BTreeSet<MessageId>,
    conv_list: BTreeMap<UserId, Vec<ConversationId>>,
    /// Notification modes set (the default is `All`).
    modes: BTreeMap<(UserId, ConversationId), NotificationMode>,
    /// Read acks held for messages not sent yet: (message, reader, expires at), oldest first.
    held: BTreeMap<ConversationId, Vec<(MessageId, UserId, u64)>>,
    /// Direct chats a held ack opened before their first message.
    opened: BTreeSet<ConversationId>,
    /// Threads by root message.
    threads: BTreeMap<MessageId, thread::ThreadM>,
    /// Model the engine, which drops expired held acks in every conversation before it
    /// refuses one for `Policy::max_early_acks_total` (the pure domain does not).
    pub sweeps_when_total_full: bool,
}

type R = Result<Effect, DomainError>;

fn changed(notifications: Vec<Notification>) -> R {
    Ok(Effect {
        changed: true,
        note: None,
        notifications,
    })
}

fn no_op() -> R {
    Ok(Effect {
        changed: false,
        note: Some(Note::AlreadyDone),
        notifications: vec![],
    })
}

impl Model {
    fn add_conv(&mut self, user: &UserId, c: &ConversationId) {
        let list = self.conv_list.entry(user.clone()).or_default();
        if !list.contains(c) {
            list.push(c.clone());
        }
    }

    /// A conversation with any recorded event: a message sent in it, or (a group) a member.
    fn known(&self, c: &ConversationId) -> bool {
        self.order.contains_key(c)
            || self.opened.contains(c)
            || matches!(c, ConversationId::Group(g) if self.ever_member.iter().any(|(eg, _)| eg == g))
    }

    fn is_member(&self, g: &GroupId, u: &UserId) -> bool {
        self.roster.get(g).is_some_and(|m| m.contains_key(u))
    }

    fn msg(&self, m: MessageId) -> Result<&Msg, DomainError> {
        self.msgs.get(&m).ok_or(DomainError::UnknownMessage(m))
    }

    fn sync(&self, c: &ConversationId, u: &UserId) -> Notification {
        Notification {
            to: u.clone(),
            kind: NotificationKind::ReadStateChanged {
                conversation: c.clone(),
                unread: self.unread(u, c),
            },
        }
    }

    pub fn exec(&mut self, policy: &Policy, at_ms: u64, cmd: &CommandKind) -> R {
        if let Some(r) = self.exec_bulk(policy, at_ms, cmd) {
            return r;
        }
        if let CommandKind::RecallMessage { message, by } = cmd {
            return self.recall(policy, at_ms, *message, by);
        }
        if let Some(r) = self.exec_mention(policy, at_ms, cmd) {
            return r;
        }
        if let Some(r) = self.exec_up_to(policy, at_ms, cmd) {
            return r;
        }
        if let CommandKind::AckMessageReadIn {
            conversation,
            message,
            reader,
        } = cmd
        {
            return self.ack_in(policy, at_ms, conversation, *message, reader);
        }
        if let CommandKind::ExpireEarlyAcks { conversation } = cmd {
            return self.expire(at_ms, conversation);
        }
        if let Some(r) = self.exec_thread(policy, cmd) {
            return r;
        }
        match cmd.clone() {
            CommandKind::SendMessage {
                conversation,
                message,
                sender,
                needs_group_ack,
            } => self.send(
                policy,
                at_ms,
                conversation,
                message,
                sender,
                needs_group_ack,
            ),
            CommandKind::Deliver { message, recipient } => {
                let m = self.msg(message)?.clone();
                if m.recalled {
                    return Err(DomainError::MessageRecalled(message));
                }
                if m.conversation.is_group() {
                    return Err(DomainError::GroupDeliveryUnsupported);
                }
                if !policy.require_delivery_ack {
                    return Err(DomainError::DeliveryAcksDisabled);
                }
                self.check_direct_recipient(policy, at_ms, message, &m, &recipient)?;
                if self.delivered.contains(&message) || self.read_acked.contains(&message) {
                    return no_op();
                }
                self.delivered.insert(message);
                changed(vec![Notification {
                    to: m.sender.clone(),
                    kind: NotificationKind::MessageDelivered {
                        conversation: m.conversation.clone(),
                        message,
                        by: recipient,
                    },
                }])
            }
            CommandKind::AckMessageRead { message, reader } => {
                let m = self.msg(message)?.clone();
                if m.recalled {
                    return Err(DomainError::MessageRecalled(message));
                }
                if m.conversation.is_group() {
                    return Err(DomainError::NotADirectMessage(message));
                }
                if !policy.require_read_ack {
                    return Err(DomainError::ReadAcksDisabled);
                }
                self.check_direct_recipient(policy, at_ms, message, &m, &reader)?;
                if self.read_acked.contains(&message) {
                    return no_op();
                }
                self.read_acked.insert(message);
                self.read_acked_at.insert(message, at_ms);
                self.read.insert((reader.clone(), message));
                changed(vec![
                    Notification {
                        to: m.sender.clone(),
                        kind: NotificationKind::MessageRead {
                            conversation: m.conversation.clone(),
                            message,
                            by: reader.clone(),
                        },
                    },
                    self.sync(&m.conversation, &reader),
                ])
            }
            CommandKind::AckConversationRead {
                conversation,
                reader,
            } => {
                if conversation.is_group() {
                    return Err(DomainError::ConversationAckDirectOnly);
                }
                if !policy.require_read_ack {
                    return Err(DomainError::ReadAcksDisabled);
                }
                let Some(peer) = conversation.peer_of(&reader).cloned() else {
                    return Err(DomainError::NotAParticipant { user: reader });
                };
                if !self.known(&conversation) {
                    return Err(DomainError::UnknownConversation(conversation));
                }
                let from_peer: Vec<MessageId> = self
                    .order
                    .get(&conversation)
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|id| self.msgs[id].sender == peer)
                    .collect();
                if !self.ack_from_peer(at_ms, &reader, from_peer) {
                    return no_op();
                }
                changed(vec![
                    Notification {
                        to: peer,
                        kind: NotificationKind::ConversationRead {
                            conversation: conversation.clone(),
                            by: reader.clone(),
                        },
                    },
                    self.sync(&conversation, &reader),
                ])
            }
            CommandKind::AckGroupMessageRead { message, reader } => {
                let m = self.msg(message)?.clone();
                if m.recalled {
                    return Err(DomainError::MessageRecalled(message));
                }
                let ConversationId::Group(g) = &m.conversation else {
                    return Err(DomainError::NotAGroupMessage(message));
                };
                if !policy.require_read_ack {
                    return Err(DomainError::ReadAcksDisabled);
                }
                if !policy.group_read_receipts {
                    return Err(DomainError::GroupReadReceiptsDisabled);
                }
                if !m.group_ack {
                    return Err(DomainError::GroupAckNotRequested(message));
                }
                if m.sender == reader {
                    return Err(DomainError::OwnMessage {
                        user: reader,
                        message,
                    });
                }
                if !self.is_member(g, &reader) {
                    return Err(DomainError::NotAMember {
                        user: reader,
                        group: g.clone(),
                    });
                }
                if !m.recipients.contains(&reader) {
                    return Err(DomainError::NotARecipient {
                        user: reader,
                        message,
                    });
                }
                if at_ms < m.at_ms {
                    return Err(DomainError::AckBeforeSend {
                        message,
                        at_ms,
                        sent_at_ms: m.at_ms,
                    });
                }
                let age_ms = at_ms - m.at_ms;
                if age_ms > policy.group_ack_validity_ms {
                    return Err(DomainError::AckExpired {
                        message,
                        age_ms,
                        validity_ms: policy.group_ack_validity_ms,
                    });
                }
                if m.acks.iter().any(|(u, _)| *u == reader) {
                    return no_op();
                }
                let entry = self.msgs.get_mut(&message).unwrap();
                entry.acks.push((reader.clone(), at_ms));
                let count = entry.acks.len() as u32;
                self.read.insert((reader.clone(), message));
                changed(vec![
                    Notification {
                        to: m.sender.clone(),
                        kind: NotificationKind::GroupMessageRead {
                            conversation: m.conversation.clone(),
                            message,
                            by: reader.clone(),
                            count,
                        },
                    },
                    self.sync(&m.conversation, &reader),
                ])
            }
            CommandKind::MarkMessageRead { message, reader } => {
                let m = self.msg(message)?.clone();
                if m.recalled {
                    return Err(DomainError::MessageRecalled(message));
                }
                if m.sender == reader {
                    return no_op();
                }
                if !m.recipients.contains(&reader) {
                    return Err(DomainError::NotARecipient {
                        user: reader,
                        message,
                    });
                }
                if !self.read.insert((reader.clone(), message)) {
                    return no_op();
                }
                changed(vec![self.sync(&m.conversation, &reader)])
            }
            CommandKind::MarkConversationRead {
                conversation,
                reader,
            } => {
                if let ConversationId::Direct { .. } = &conversation {
                    if conversation.peer_of(&reader).is_none() {
                        return Err(DomainError::NotAParticipant { user: reader });
                    }
                }
                if !self.known(&conversation) {
                    return Err(DomainError::UnknownConversation(conversation));
                }
                match &conversation {
                    ConversationId::Group(g)
                        if !self.ever_member.contains(&(g.clone(), reader.clone())) =>
                    {
                        return Err(DomainError::NotAMember {
                            user: reader,
                            group: g.clone(),
                        })
                    }
                    _ => {}
                }
                if self.unread(&reader, &conversation) == 0 {
                    return no_op();
                }
                let ids: Vec<MessageId> = self.order[&conversation].clone();
                for id in ids {
                    if self.msgs[&id].recipients.contains(&reader) {
                        self.read.insert((reader.clone(), id));
                    }
                }
                changed(vec![self.sync(&conversation, &reader)])
            }
            CommandKind::JoinGroup { group, user, role } => {
                match self.roster.get(&group).and_then(|m| m.get(&user)) {
                    Some(r) if *r == role => return no_op(),
                    Some(_) => return Err(DomainError::AlreadyMember { user, group }),
                    None => {}
                }
                self.roster
                    .entry(group.clone())
                    .or_default()
                    .insert(user.clone(), role);
                self.ever_member.insert((group.clone(), user.clone()));
                self.add_conv(&user, &ConversationId::Group(group));
                changed(vec![])
            }
            CommandKind::LeaveGroup { group, user } => {
                if !self.ever_member.contains(&(group.clone(), user.clone())) {
                    return Err(DomainError::NotAMember { user, group });
                }
                match self.roster.get_mut(&group).and_then(|m| m.remove(&user)) {
                    Some(_) => {
                        self.unfollow_group_threads(&group, &user);
                        changed(vec![])
                    }
                    None => no_op(),
                }
            }
            CommandKind::SetRole { group, user, role } => {
                let Some(current) = self.roster.get_mut(&group).and_then(|m| m.get_mut(&user))
                else {
                    return Err(DomainError::NotAMember { user, group });
                };
                if *current == role {
                    return no_op();
                }
                *current = role;
                changed(vec![])
            }
            other => panic!("model does not know {other:?}"),
        }
    }

    fn send(
        &mut self,
        policy: &Policy,
        at_ms: u64,
        conversation: ConversationId,
        message: MessageId,
        sender: UserId,
        needs_group_ack: bool,
    ) -> R {
        if let Some(m) = self.msgs.get(&message) {
            return if m.conversation == conversation && m.sender == sender {
                no_op()
            } else {
                Err(DomainError::MessageIdInUse(message))
            };
        }
        if self.is_reply(&message) {
            return Err(DomainError::MessageIdInUse(message));
        }
        let (recipients, decision) = match &conversation {
            ConversationId::Direct { .. } => {
                let Some(peer) = conversation.peer_of(&sender).cloned() else {
                    return Err(DomainError::NotAParticipant { user: sender });
                };
                let d = needs_group_ack.then_some(GroupAckDeclined::NotAGroup);
                (
                    BTreeSet::from([peer]),
                    d.map_or(GroupAck::NotRequested, GroupAck::Declined),
                )
            }
            ConversationId::Group(g) => {
                let Some(role) = self.roster.get(g).and_then(|m| m.get(&sender)).copied() else {
                    return Err(DomainError::NotAMember {
                        user: sender,
                        group: g.clone(),
                    });
                };
                let members: BTreeSet<UserId> = self.roster[g].keys().cloned().collect();
                let n = members.len() as u32;
                let ack = if !needs_group_ack {
                    GroupAck::NotRequested
                } else if !policy.require_read_ack {
                    GroupAck::Declined(GroupAckDeclined::ReadAcksDisabled)
                } else if !policy.group_read_receipts {
                    GroupAck::Declined(GroupAckDeclined::FeatureDisabled)
                } else if policy.group_ack_requesters == GroupAckRequesters::OwnerAndAdmins
                    && role == Role::Member
                {
                    GroupAck::Declined(GroupAckDeclined::SenderNotPermitted)
                } else if n > policy.max_group_size {
                    GroupAck::Declined(GroupAckDeclined::GroupTooLarge {
                        members: n,
                        max_group_size: policy.max_group_size,
                    })
                } else {
                    GroupAck::Enabled
                };
                let mut r = members;
                r.remove(&sender);
                (r, ack)
            }
        };
        if let ConversationId::Direct { low, high } = &conversation {
            self.add_conv(&low.clone(), &conversation);
            self.add_conv(&high.clone(), &conversation);
        }
        self.order
            .entry(conversation.clone())
            .or_default()
            .push(message);
        self.msgs.insert(
            message,
            Msg {
                conversation,
                sender,
                at_ms,
                group_ack: decision == GroupAck::Enabled,
                recipients,
                acks: vec![],
                recalled: false,
                mentions: BTreeSet::new(),
                mention_all: false,
            },
        );
        let notifications = self.apply_held(policy, at_ms, message);
        Ok(Effect {
            changed: true,
            note: match decision {
                GroupAck::Declined(why) => Some(Note::GroupAckDeclined(why)),
                _ => None,
            },
            notifications,
        })
    }

    fn check_direct_recipient(
        &self,
        policy: &Policy,
        at_ms: u64,
        message: MessageId,
        m: &Msg,
        user: &UserId,
    ) -> Result<(), DomainError> {
        if &m.sender == user {
            return Err(DomainError::OwnMessage {
                user: user.clone(),
                message,
            });
        }
        if !m.recipients.contains(user) {
            return Err(DomainError::NotARecipient {
                user: user.clone(),
                message,
            });
        }
        let age_ms = at_ms.saturating_sub(m.at_ms);
        match policy.message_retention_ms {
            Some(retention_ms) if age_ms > retention_ms => Err(DomainError::MessageExpired {
                message,
                age_ms,
                retention_ms,
            }),
            _ => Ok(()),
        }
    }
}
