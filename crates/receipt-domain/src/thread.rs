//! Threads: replies to a message of a conversation, with their own read state.
//!
//! A thread lives in its conversation's partition (same stream), keyed by its root message's
//! sequence. Its replies are not in the conversation's message sequence, so they never count in
//! the conversation's unread count; each thread has followers instead (the root's sender when
//! the first reply comes, every replier, and whoever follows it), and a follower's unread count
//! in the thread is arithmetic on three numbers, so a reply is O(1) whatever the number of
//! followers. Reads cover the whole thread (opening a thread reads it); a read with a receipt
//! also moves the reader's receipt mark, which answers "who has read this reply".

use crate::ids::{ConversationId, MessageId, UserId};
use crate::state::{ConvIdx, Conversation, ReplyRef, Seq, State, UserIdx};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// Root sequences of the threads one user follows in a conversation (a newtype so that its
/// decoding allocates only for what it decodes, like every container of the state).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Roots(
    #[serde(deserialize_with = "crate::bounded_serde::vec")] pub(crate) Vec<Seq>,
);

/// One thread: its replies in order, and everyone who has followed or read it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Thread {
    #[serde(deserialize_with = "crate::bounded_serde::vec")]
    pub(crate) replies: Vec<Reply>,
    #[serde(deserialize_with = "crate::bounded_serde::map")]
    pub(crate) readers: FxHashMap<UserIdx, ThreadReader>,
}

/// A reply: the same record a message has, minus flags (no delivery or per-reply acks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Reply {
    pub(crate) id: MessageId,
    pub(crate) sent_at_ms: u64,
    pub(crate) sender: UserIdx,
}

/// One user's state in one thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ThreadReader {
    /// Following now: only a follower has unread replies.
    pub(crate) following: bool,
    /// Every reply below this index is read, or was sent before the reader followed.
    pub(crate) read_from: u32,
    /// Replies at or above `read_from` that the reader sent (never unread for them).
    pub(crate) own_since_read: u32,
    /// Every reply below this index was read with a receipt (`AckThreadRead`).
    pub(crate) acked_to: u32,
}

impl ThreadReader {
    fn unread(&self, len: u32) -> u32 {
        if !self.following {
            return 0;
        }
        len.saturating_sub(self.read_from)
            .saturating_sub(self.own_since_read)
    }
}

/// A thread's replies and the user's unread replies in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadUnread {
    /// The thread's root message.
    pub root: MessageId,
    /// Replies in the thread.
    pub replies: u32,
    /// Replies from others the user has not read (0 unless following).
    pub unread: u32,
}

impl Thread {
    fn len(&self) -> u32 {
        u32::try_from(self.replies.len()).unwrap_or(u32::MAX)
    }

    fn follow(&mut self, u: UserIdx) -> bool {
        let len = self.len();
        let r = self.readers.entry(u).or_default();
        if r.following {
            return false;
        }
        // Replies before the follow are not unread for the new follower.
        r.following = true;
        r.read_from = len;
        r.own_since_read = 0;
        true
    }
}

impl Conversation {
    /// The user's unread replies over the threads they follow here: O(those threads).
    pub(crate) fn thread_unread_of(&self, u: UserIdx) -> u32 {
        self.following.get(&u).map_or(0, |roots| {
            roots
                .0
                .iter()
                .filter_map(|root| self.threads.get(root))
                .filter_map(|t| t.readers.get(&u).map(|r| r.unread(t.len())))
                .fold(0u32, u32::saturating_add)
        })
    }

    /// Replies in all of its threads.
    pub(crate) fn thread_reply_count(&self) -> u32 {
        self.thread_replies
    }

    fn note_following(&mut self, u: UserIdx, root: Seq) {
        let list = &mut self.following.entry(u).or_default().0;
        if !list.contains(&root) {
            list.push(root);
        }
    }

    fn note_unfollowing(&mut self, u: UserIdx, root: Seq) {
        if let Some(list) = self.following.get_mut(&u) {
            list.0.retain(|&r| r != root);
            if list.0.is_empty() {
                self.following.remove(&u);
            }
        }
    }

    /// The user left the group: they stop following every thread of it (O(those threads)).
    pub(crate) fn unfollow_all(&mut self, u: UserIdx) {
        for root in self.following.remove(&u).unwrap_or_default().0 {
            if let Some(r) = self
                .threads
                .get_mut(&root)
                .and_then(|t| t.readers.get_mut(&u))
            {
                r.following = false;
            }
        }
    }
}

/// The fold of thread events.
impl State {
    /// The conversation and sequence of a root message in `conversation`.
    fn root_at(&self, conversation: &ConversationId, root: &MessageId) -> Option<(ConvIdx, Seq)> {
        let r = self.messages.get(root)?;
        let conv = self.conversation_idx(conversation)?;
        (r.conversation == conv).then_some((conv, r.seq))
    }

    pub(crate) fn on_reply(
        &mut self,
        conversation: &ConversationId,
        root: MessageId,
        message: MessageId,
        sender: &UserId,
        at_ms: u64,
    ) {
        if self.messages.contains_key(&message) || self.replies.contains_key(&message) {
            return; // Never produced by decide: a message id is used once.
        }
        let Some((conv, root_seq)) = self.root_at(conversation, &root) else {
            return;
        };
        let s = self.intern_user(sender);
        let c = &mut self.conversations[conv as usize];
        let root_sender = c.messages[root_seq as usize].sender;
        let root_sender_current = c.readers.get(&root_sender).is_some_and(|r| r.is_current());
        let thread = c.threads.entry(root_seq).or_default();
        let Ok(index) = u32::try_from(thread.replies.len()) else {
            return;
        };
        // The thread starts with its first reply: its root's sender follows it from there.
        let mut followed = Vec::new();
        if index == 0 && root_sender != s && root_sender_current && thread.follow(root_sender) {
            followed.push(root_sender);
        }
        if thread.follow(s) {
            followed.push(s);
        }
        thread.replies.push(Reply {
            id: message,
            sent_at_ms: at_ms,
            sender: s,
        });
        if let Some(r) = thread.readers.get_mut(&s) {
            r.own_since_read += 1;
        }
        c.thread_replies = c.thread_replies.saturating_add(1);
        for u in followed {
            c.note_following(u, root_seq);
        }
        self.replies.insert(
            message,
            ReplyRef {
                conversation: conv,
                root: root_seq,
                index,
            },
        );
    }

    pub(crate) fn on_follow(
        &mut self,
        conversation: &ConversationId,
        root: &MessageId,
        user: &UserId,
        follow: bool,
    ) {
        let Some((conv, root_seq)) = self.root_at(conversation, root) else {
            return;
        };
        let u = self.intern_user(user);
        let c = &mut self.conversations[conv as usize];
        let thread = c.threads.entry(root_seq).or_default();
        if follow {
            if thread.follow(u) {
                c.note_following(u, root_seq);
            }
        } else {
            if let Some(r) = thread.readers.get_mut(&u) {
                r.following = false;
            }
            c.note_unfollowing(u, root_seq);
        }
    }

    pub(crate) fn on_thread_read(
        &mut self,
        conversation: &ConversationId,
        root: &MessageId,
        reader: &UserId,
        receipt: bool,
    ) {
        let Some((conv, root_seq)) = self.root_at(conversation, root) else {
            return;
        };
        let u = self.intern_user(reader);
        let c = &mut self.conversations[conv as usize];
        let thread = c.threads.entry(root_seq).or_default();
        let len = thread.len();
        let r = thread.readers.entry(u).or_default();
        r.read_from = len;
        r.own_since_read = 0;
        if receipt {
            r.acked_to = len;
        }
    }
}

/// Thread queries.
impl State {
    fn thread_of(&self, conversation: &ConversationId, root: &MessageId) -> Option<&Thread> {
        let (conv, seq) = self.root_at(conversation, root)?;
        self.conversations[conv as usize].threads.get(&seq)
    }

    /// Replies from others in the thread of `root` that `user` has not read (0 unless they
    /// follow it).
    pub fn thread_unread_count(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        root: &MessageId,
    ) -> u32 {
        let (Some(t), Some(u)) = (self.thread_of(conversation, root), self.user_idx(user)) else {
            return 0;
        };
        t.readers.get(&u).map_or(0, |r| r.unread(t.len()))
    }

    /// The threads `user` follows in `conversation`, oldest root first, with their unread
    /// replies. O(those threads).
    pub fn thread_unreads(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Vec<ThreadUnread> {
        let (Some(c), Some(u)) = (self.conversation(conversation), self.user_idx(user)) else {
            return Vec::new();
        };
        let mut roots = c.following.get(&u).cloned().unwrap_or_default().0;
        roots.sort_unstable();
        roots
            .into_iter()
            .filter_map(|seq| {
                let t = c.threads.get(&seq)?;
                Some(ThreadUnread {
                    root: c.messages.get(seq as usize)?.id,
                    replies: t.len(),
                    unread: t.readers.get(&u).map_or(0, |r| r.unread(t.len())),
                })
            })
            .collect()
    }

    /// The replies of the thread of `root`, in order (empty for a message without replies).
    pub fn thread_replies(
        &self,
        conversation: &ConversationId,
        root: &MessageId,
    ) -> Vec<MessageId> {
        self.thread_of(conversation, root)
            .map(|t| t.replies.iter().map(|r| r.id).collect())
            .unwrap_or_default()
    }

    /// The thread a reply belongs to: its conversation and root message.
    pub fn thread_of_reply(&self, reply: &MessageId) -> Option<(ConversationId, MessageId)> {
        let r = self.replies.get(reply)?;
        let c = self.conversations.get(r.conversation as usize)?;
        Some((c.id.clone(), c.messages.get(r.root as usize)?.id))
    }

    /// Who has read `reply` with a receipt (`AckThreadRead` covering it), its sender excluded,
    /// in no particular order. O(the thread's readers).
    pub(crate) fn reply_read_by(&self, reply: &MessageId) -> Option<(UserIdx, Vec<UserId>)> {
        let r = self.replies.get(reply)?;
        let t = self
            .conversations
            .get(r.conversation as usize)?
            .threads
            .get(&r.root)?;
        let sender = t.replies.get(r.index as usize)?.sender;
        let mut readers: Vec<UserId> = t
            .readers
            .iter()
            .filter(|(&u, tr)| u != sender && tr.acked_to > r.index)
            .map(|(&u, _)| self.user_id(u).clone())
            .collect();
        readers.sort();
        Some((sender, readers))
    }
}

impl State {
    /// Who has read `reply` with a receipt, its sender excluded, sorted by user id: visible to
    /// the reply's sender, and to every current participant when the policy opens group ack
    /// lists to all members (`AckVisibility::AllMembers`) or the conversation is a direct chat.
    pub fn thread_read_by(
        &self,
        policy: &crate::policy::Policy,
        viewer: &UserId,
        reply: &MessageId,
    ) -> Result<Vec<UserId>, crate::error::QueryError> {
        let (sender, readers) = self
            .reply_read_by(reply)
            .ok_or(crate::error::QueryError::UnknownMessage(*reply))?;
        let allowed = self.user_id(sender) == viewer || {
            let r = self.replies.get(reply);
            let conv = r.and_then(|r| self.conversations.get(r.conversation as usize));
            conv.is_some_and(|c| {
                let current = self.reader(c, viewer).is_some_and(|r| r.is_current());
                current
                    && (!c.id.is_group()
                        || policy.group_ack_visibility == crate::policy::AckVisibility::AllMembers)
            })
        };
        if !allowed {
            return Err(crate::error::QueryError::Forbidden {
                viewer: viewer.clone(),
                message: *reply,
            });
        }
        Ok(readers)
    }
}

impl State {
    /// The thread's length and `user`'s state in it (all zero when either is unknown): what a
    /// thread command is decided with, in O(1).
    pub(crate) fn thread_reader(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        root: &MessageId,
    ) -> (u32, ThreadReader) {
        let Some(t) = self.thread_of(conversation, root) else {
            return (0, ThreadReader::default());
        };
        let reader = self
            .user_idx(user)
            .and_then(|u| t.readers.get(&u).copied())
            .unwrap_or_default();
        (t.len(), reader)
    }
}

impl State {
    /// The error for `message`, not a message of this state's sequences, named as a message of
    /// `conversation`: a reply of another conversation is in the wrong conversation (as the
    /// engine's message index, which holds replies too, says), anything else is unknown.
    pub(crate) fn not_a_message_of(
        &self,
        message: MessageId,
        conversation: &ConversationId,
    ) -> crate::error::DomainError {
        match self.thread_of_reply(&message) {
            Some((c, _)) if &c != conversation => {
                crate::error::DomainError::MessageNotInConversation {
                    message,
                    conversation: conversation.clone(),
                }
            }
            _ => crate::error::DomainError::UnknownMessage(message),
        }
    }
}

impl State {
    /// The threads' structural invariants (part of `check_invariants`): every index in range,
    /// every count what it summarises, the reply index and the threads in agreement.
    pub(crate) fn check_threads(&self) -> Result<(), String> {
        let users = self.users.len();
        let mut replies_total = 0usize;
        for c in &self.conversations {
            let mut in_conversation = 0u64;
            for (&root, t) in &c.threads {
                if root >= c.len() {
                    return Err(format!("thread root {root} past the end of {}", c.id));
                }
                let len = t.len();
                in_conversation += u64::from(len);
                if t.replies.iter().any(|r| r.sender as usize >= users) {
                    return Err(format!("thread reply sender in {}", c.id));
                }
                for (&u, r) in &t.readers {
                    let ok = (u as usize) < users
                        && r.read_from <= len
                        && r.acked_to <= len
                        && r.own_since_read <= len - r.read_from;
                    if !ok {
                        return Err(format!("thread reader {u} in {}", c.id));
                    }
                    let listed = c.following.get(&u).is_some_and(|l| l.0.contains(&root));
                    if r.following != listed {
                        return Err(format!("thread following of {u} in {}", c.id));
                    }
                }
            }
            if in_conversation != u64::from(c.thread_replies) {
                return Err(format!("thread reply count of {}", c.id));
            }
            for (u, roots) in &c.following {
                let ok = roots.0.iter().all(|root| {
                    c.threads
                        .get(root)
                        .and_then(|t| t.readers.get(u))
                        .is_some_and(|r| r.following)
                });
                if !ok {
                    return Err(format!("followed threads of {u} in {}", c.id));
                }
            }
            replies_total += in_conversation as usize;
        }
        if self.replies.len() != replies_total {
            return Err("reply index size".into());
        }
        for (id, r) in &self.replies {
            let found = self
                .conversations
                .get(r.conversation as usize)
                .and_then(|c| c.threads.get(&r.root))
                .and_then(|t| t.replies.get(r.index as usize))
                .is_some_and(|reply| reply.id == *id);
            if !found || self.messages.contains_key(id) {
                return Err(format!("reply index entry {id}"));
            }
        }
        Ok(())
    }
}
