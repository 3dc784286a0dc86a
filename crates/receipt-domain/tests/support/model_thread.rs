//! The reference model of threads: every reply kept with its thread, followers as a set with the
//! reply count when each followed, reads and receipts as sets of (user, reply).

use super::{changed, no_op, Model, R};
use receipt_domain::*;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default)]
pub(super) struct ThreadM {
    pub(super) conversation: Option<ConversationId>,
    pub(super) replies: Vec<(MessageId, UserId)>,
    /// Followers now, with the number of replies when they (last) followed.
    pub(super) followers: BTreeMap<UserId, usize>,
    pub(super) read: BTreeSet<(UserId, MessageId)>,
    pub(super) acked: BTreeSet<(UserId, MessageId)>,
}

impl Model {
    /// The thread a reply is in.
    fn reply_thread(&self, reply: &MessageId) -> Option<(&MessageId, &ThreadM)> {
        self.threads
            .iter()
            .find(|(_, t)| t.replies.iter().any(|(id, _)| id == reply))
    }

    /// A message of `c`'s own sequence, or the error the domain gives for `m`.
    pub(super) fn located(&self, m: MessageId, c: &ConversationId) -> Result<(), DomainError> {
        let in_other = || {
            Err(DomainError::MessageNotInConversation {
                message: m,
                conversation: c.clone(),
            })
        };
        match (self.msgs.get(&m), self.reply_thread(&m)) {
            (Some(msg), _) if &msg.conversation != c => in_other(),
            (Some(_), _) => Ok(()),
            (None, Some((_, t))) if t.conversation.as_ref() != Some(c) => in_other(),
            (None, _) => Err(DomainError::UnknownMessage(m)),
        }
    }

    /// Whether `m` is a thread reply.
    pub(super) fn is_reply(&self, m: &MessageId) -> bool {
        self.reply_thread(m).is_some()
    }

    /// `growing`: a reply or a new follower, which a recalled root refuses; reads and
    /// unfollows are allowed there, so no unread reply is stuck.
    fn root_check(
        &self,
        c: &ConversationId,
        root: MessageId,
        growing: bool,
    ) -> Result<(), DomainError> {
        let Some(m) = self.msgs.get(&root) else {
            return Err(if self.is_reply(&root) {
                DomainError::ThreadReply(root)
            } else {
                DomainError::UnknownMessage(root)
            });
        };
        if &m.conversation != c {
            return Err(DomainError::MessageNotInConversation {
                message: root,
                conversation: c.clone(),
            });
        }
        if growing && m.recalled {
            return Err(DomainError::MessageRecalled(root));
        }
        Ok(())
    }

    fn is_participant(&self, c: &ConversationId, u: &UserId) -> bool {
        match c {
            ConversationId::Direct { .. } => c.peer_of(u).is_some(),
            ConversationId::Group(g) => self.is_member(g, u),
        }
    }

    fn participant_check(&self, c: &ConversationId, u: &UserId) -> Result<(), DomainError> {
        if self.is_participant(c, u) {
            return Ok(());
        }
        Err(match c {
            ConversationId::Direct { .. } => DomainError::NotAParticipant { user: u.clone() },
            ConversationId::Group(g) => DomainError::NotAMember {
                user: u.clone(),
                group: g.clone(),
            },
        })
    }

    pub(super) fn exec_thread(&mut self, policy: &Policy, cmd: &CommandKind) -> Option<R> {
        Some(match cmd.clone() {
            CommandKind::SendThreadReply {
                conversation,
                root,
                message,
                sender,
            } => self.reply(conversation, root, message, sender),
            CommandKind::FollowThread {
                conversation,
                root,
                user,
            } => self.follow(conversation, root, user, true),
            CommandKind::UnfollowThread {
                conversation,
                root,
                user,
            } => self.follow(conversation, root, user, false),
            CommandKind::MarkThreadRead {
                conversation,
                root,
                reader,
            } => self.read_thread(policy, conversation, root, reader, false),
            CommandKind::AckThreadRead {
                conversation,
                root,
                reader,
            } => self.read_thread(policy, conversation, root, reader, true),
            _ => return None,
        })
    }

    fn reply(
        &mut self,
        c: ConversationId,
        root: MessageId,
        message: MessageId,
        sender: UserId,
    ) -> R {
        if self.msgs.contains_key(&message) {
            return Err(DomainError::MessageIdInUse(message));
        }
        if let Some((r, t)) = self.reply_thread(&message) {
            let same = *r == root
                && t.conversation.as_ref() == Some(&c)
                && t.replies
                    .iter()
                    .any(|(id, s)| *id == message && *s == sender);
            return if same {
                no_op()
            } else {
                Err(DomainError::MessageIdInUse(message))
            };
        }
        self.root_check(&c, root, true)?;
        self.participant_check(&c, &sender)?;
        let root_sender = self.msgs[&root].sender.clone();
        let root_sender_current = self.is_participant(&c, &root_sender);
        let t = self.threads.entry(root).or_default();
        t.conversation = Some(c);
        let len = t.replies.len();
        if len == 0 && root_sender != sender && root_sender_current {
            t.followers.entry(root_sender).or_insert(0);
        }
        t.followers.entry(sender.clone()).or_insert(len);
        t.replies.push((message, sender));
        changed(vec![])
    }

    fn follow(&mut self, c: ConversationId, root: MessageId, user: UserId, follow: bool) -> R {
        self.root_check(&c, root, follow)?;
        let following = self
            .threads
            .get(&root)
            .is_some_and(|t| t.followers.contains_key(&user));
        if follow {
            self.participant_check(&c, &user)?;
        }
        if following == follow {
            return no_op();
        }
        let t = self.threads.entry(root).or_default();
        t.conversation = Some(c.clone());
        if follow {
            t.followers.insert(user.clone(), t.replies.len());
        } else {
            t.followers.remove(&user);
        }
        changed(vec![Notification {
            to: user,
            kind: NotificationKind::ThreadFollowChanged {
                conversation: c,
                root,
                following: follow,
            },
        }])
    }

    fn read_thread(
        &mut self,
        policy: &Policy,
        c: ConversationId,
        root: MessageId,
        reader: UserId,
        receipt: bool,
    ) -> R {
        if receipt {
            if !policy.require_read_ack {
                return Err(DomainError::ReadAcksDisabled);
            }
            if c.is_group() && !policy.group_read_receipts {
                return Err(DomainError::GroupReadReceiptsDisabled);
            }
        }
        self.root_check(&c, root, false)?;
        self.participant_check(&c, &reader)?;
        let unread = self.thread_unread(&reader, &root);
        let t = self.threads.entry(root).or_default();
        t.conversation = Some(c.clone());
        let all_acked = t
            .replies
            .iter()
            .all(|(id, _)| t.acked.contains(&(reader.clone(), *id)));
        if unread == 0 && (!receipt || all_acked) {
            return no_op();
        }
        for (id, _) in &t.replies {
            t.read.insert((reader.clone(), *id));
            if receipt {
                t.acked.insert((reader.clone(), *id));
            }
        }
        changed(vec![Notification {
            to: reader,
            kind: NotificationKind::ThreadRead {
                conversation: c,
                root,
            },
        }])
    }

    /// After `user` left group `g`: they follow none of its threads.
    pub(super) fn unfollow_group_threads(&mut self, g: &GroupId, user: &UserId) {
        let c = ConversationId::Group(g.clone());
        for t in self.threads.values_mut() {
            if t.conversation.as_ref() == Some(&c) {
                t.followers.remove(user);
            }
        }
    }

    pub fn thread_unread(&self, u: &UserId, root: &MessageId) -> u32 {
        let Some(t) = self.threads.get(root) else {
            return 0;
        };
        let Some(&from) = t.followers.get(u) else {
            return 0;
        };
        t.replies[from..]
            .iter()
            .filter(|(id, s)| s != u && !t.read.contains(&(u.clone(), *id)))
            .count() as u32
    }

    /// The threads `u` follows in `c`, in the conversation's message order.
    pub fn thread_unreads(&self, u: &UserId, c: &ConversationId) -> Vec<ThreadUnread> {
        self.order
            .get(c)
            .into_iter()
            .flatten()
            .filter_map(|root| {
                let t = self.threads.get(root)?;
                t.followers.contains_key(u).then(|| ThreadUnread {
                    root: *root,
                    replies: t.replies.len() as u32,
                    unread: self.thread_unread(u, root),
                })
            })
            .collect()
    }

    pub fn conversation_thread_unread(&self, u: &UserId, c: &ConversationId) -> u32 {
        self.thread_unreads(u, c).iter().map(|t| t.unread).sum()
    }

    /// Every reply id, with its conversation.
    pub fn replies(&self) -> Vec<(MessageId, ConversationId)> {
        self.threads
            .values()
            .flat_map(|t| {
                t.replies
                    .iter()
                    .filter_map(|(id, _)| Some((*id, t.conversation.clone()?)))
            })
            .collect()
    }

    pub fn thread_read_by(
        &self,
        policy: &Policy,
        viewer: &UserId,
        reply: &MessageId,
    ) -> Result<Vec<UserId>, QueryError> {
        let (_, t) = self
            .reply_thread(reply)
            .ok_or(QueryError::UnknownMessage(*reply))?;
        let sender = &t.replies.iter().find(|(id, _)| id == reply).unwrap().1;
        let c = t.conversation.clone().unwrap();
        let allowed = sender == viewer
            || (self.is_participant(&c, viewer)
                && (!c.is_group() || policy.group_ack_visibility == AckVisibility::AllMembers));
        if !allowed {
            return Err(QueryError::Forbidden {
                viewer: viewer.clone(),
                message: *reply,
            });
        }
        let readers: BTreeSet<UserId> = t
            .acked
            .iter()
            .filter(|(u, id)| id == reply && u != sender)
            .map(|(u, _)| u.clone())
            .collect();
        Ok(readers.into_iter().collect())
    }
}

impl Model {
    /// A thread command on a message that exists (random commands rarely name one): `kind`
    /// picks the command, `root` the message among those sent, `message` the reply's id,
    /// `user` the actor among `users` (for a direct chat, one of its pair).
    pub fn thread_command(
        &self,
        kind: u8,
        root: usize,
        message: MessageId,
        user: usize,
        users: &[UserId],
    ) -> Option<CommandKind> {
        let roots: Vec<&MessageId> = self.msgs.keys().collect();
        let root = **roots.get(root % roots.len().max(1))?;
        let conversation = self.msgs[&root].conversation.clone();
        let user = match &conversation {
            ConversationId::Direct { low, high } if user % 4 != 3 => {
                if user.is_multiple_of(2) {
                    low.clone()
                } else {
                    high.clone()
                }
            }
            _ => users[user % users.len()].clone(),
        };
        Some(match kind % 6 {
            0 | 1 => CommandKind::SendThreadReply {
                conversation,
                root,
                message,
                sender: user,
            },
            2 => CommandKind::FollowThread {
                conversation,
                root,
                user,
            },
            3 => CommandKind::MarkThreadRead {
                conversation,
                root,
                reader: user,
            },
            4 => CommandKind::AckThreadRead {
                conversation,
                root,
                reader: user,
            },
            _ => CommandKind::UnfollowThread {
                conversation,
                root,
                user,
            },
        })
    }
}
