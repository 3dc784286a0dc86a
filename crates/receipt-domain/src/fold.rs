//! The fold: applies a fact to the state. Never fails, never consults policy, O(1) amortized.
//!
//! Events produced by `decide` always reference things that exist. An event that does not (only
//! possible in a log not written through `decide`) is counted and otherwise ignored rather than
//! half-applied, so that no stored byte sequence can panic or corrupt the projections.

use crate::event::{Event, EventBody, GroupAck};
use crate::ids::{ConversationId, GroupId, MessageId, UserId};
use crate::state::{
    ConvIdx, Conversation, GroupAcks, MessageRecord, MessageRef, ReaderState, Seq, State,
    UserEntry, UserIdx, FLAG_DELIVERED, FLAG_GROUP_ACK, FLAG_READ_ACKED,
};

impl State {
    /// Folds one event into the state.
    pub fn apply(&mut self, event: &Event) {
        self.events_applied += 1;
        match &event.body {
            EventBody::MessageSent {
                conversation,
                message,
                sender,
                group_ack,
            } => self.on_sent(conversation, *message, sender, *group_ack, event.at_ms),
            EventBody::Delivered { message, .. } => {
                if let Some((conv, seq, _)) = self.locate(message) {
                    self.conversations[conv as usize].messages[seq as usize].flags |=
                        FLAG_DELIVERED;
                }
            }
            EventBody::ReadAcked {
                message, reader, ..
            } => self.on_read_acked(*message, reader, event.at_ms),
            EventBody::ConversationAcked {
                conversation,
                reader,
            } => {
                if let Some(slot) = self.reader_mut(conversation, reader) {
                    if slot.len > slot.reader.ack_watermark {
                        slot.reader.ack_marks.push((slot.len, event.at_ms));
                    }
                    slot.reader.ack_watermark = slot.len;
                    slot.reader.unacked_from_peer = 0;
                    let at = slot.counts();
                    mark_all_read(slot.reader, &at);
                }
            }
            EventBody::GroupReadAcked {
                message, reader, ..
            } => self.on_group_read_acked(*message, reader, event.at_ms),
            EventBody::MessageMarkedRead {
                message, reader, ..
            } => {
                if let (Some((conv, seq, sender)), Some(u)) =
                    (self.locate(message), self.user_idx(reader))
                {
                    let c = &mut self.conversations[conv as usize];
                    if let Some(r) = c.readers.get_mut(&u) {
                        mark_read(r, seq, sender == u);
                    }
                }
            }
            EventBody::ConversationMarkedRead {
                conversation,
                reader,
            } => {
                if let Some(slot) = self.reader_mut(conversation, reader) {
                    let at = slot.counts();
                    mark_all_read(slot.reader, &at);
                }
            }
            EventBody::MemberJoined { group, user, role } => {
                let conv = self.intern_group(group);
                let u = self.intern_user(user);
                let c = &mut self.conversations[conv as usize];
                let len = c.len();
                let is_new = !c.readers.contains_key(&u);
                let r = c.readers.entry(u).or_default();
                if r.current_start.is_none() {
                    r.current_start = Some(len);
                    c.member_count += 1;
                }
                r.role = Some(*role);
                if is_new {
                    self.users[u as usize].conversations.push(conv);
                }
            }
            EventBody::MemberLeft { group, user } => {
                if let Some(slot) = self.group_reader_mut(group, user) {
                    let r = slot.reader;
                    if let Some(start) = r.current_start.take() {
                        r.past.push((start, slot.len));
                        r.past_len += slot.len.saturating_sub(start);
                        r.role = None;
                        *slot.member_count = slot.member_count.saturating_sub(1);
                    }
                }
                // A member who leaves stops following the group's threads.
                if let (Some(c), Some(u)) = (
                    self.conversation_idx(&ConversationId::Group(group.clone())),
                    self.user_idx(user),
                ) {
                    self.conversations[c as usize].unfollow_all(u);
                }
            }
            EventBody::MemberRoleChanged { group, user, role } => {
                if let Some(slot) = self.group_reader_mut(group, user) {
                    if slot.reader.is_current() {
                        slot.reader.role = Some(*role);
                    }
                }
            }
            EventBody::MessageRecalled { message, .. } => {
                if let Some(r) = self.messages.get(message).copied() {
                    self.fold_recall(r.conversation as usize, r.seq);
                }
            }
            EventBody::UsersMentioned {
                message,
                users,
                everyone,
                ..
            } => self.on_mentioned(*message, users, *everyone),
            EventBody::ReadAckBuffered {
                conversation,
                message,
                reader,
                expires_at_ms,
            } => self.hold_ack(conversation, *message, reader, *expires_at_ms),
            EventBody::EarlyAckDropped {
                conversation,
                message,
                reader,
                ..
            } => {
                if let Some(c) = self.conversation_idx(conversation) {
                    self.release_held(c, *message, reader);
                }
            }
            EventBody::ConversationAckedUpTo { reader, up_to, .. } => {
                self.on_up_to(*up_to, reader, Some(event.at_ms));
            }
            EventBody::ConversationMarkedReadUpTo { reader, up_to, .. } => {
                self.on_up_to(*up_to, reader, None);
            }
            EventBody::NotificationModeChanged {
                conversation,
                user,
                mode,
            } => {
                if let Some(slot) = self.reader_mut(conversation, user) {
                    slot.reader.mode = *mode;
                }
            }
            EventBody::ThreadReplySent {
                conversation,
                root,
                message,
                sender,
            } => self.on_reply(conversation, *root, *message, sender, event.at_ms),
            EventBody::ThreadFollowChanged {
                conversation,
                root,
                user,
                following,
            } => self.on_follow(conversation, root, user, *following),
            EventBody::ThreadRead {
                conversation,
                root,
                reader,
                receipt,
            } => self.on_thread_read(conversation, root, reader, *receipt),
        }
    }

    fn on_sent(
        &mut self,
        conversation: &ConversationId,
        message: MessageId,
        sender: &UserId,
        group_ack: GroupAck,
        at_ms: u64,
    ) {
        if self.messages.contains_key(&message) {
            return; // Never produced by decide: a message id is used once.
        }
        let (conv, s, peer) = match conversation {
            ConversationId::Group(g) => (self.intern_group(g), self.intern_user(sender), None),
            ConversationId::Direct { low, high } => {
                let (conv, l, h) = self.intern_direct(low, high);
                if sender == low {
                    (conv, l, Some(h))
                } else if sender == high {
                    (conv, h, Some(l))
                } else {
                    (conv, self.intern_user(sender), None) // never produced by decide
                }
            }
        };
        let c = &mut self.conversations[conv as usize];
        let Ok(seq) = Seq::try_from(c.messages.len()) else {
            return; // 4 billion messages in one conversation: refuse rather than wrap.
        };
        let flags = if group_ack == GroupAck::Enabled {
            FLAG_GROUP_ACK
        } else {
            0
        };
        c.messages.push(MessageRecord {
            id: message,
            sent_at_ms: at_ms,
            group_acks: None,
            sender: s,
            flags,
        });
        // Only the sender's and (direct chats) the peer's counters move: never one per member.
        if let Some(r) = c.readers.get_mut(&s) {
            r.own_sent += 1;
        }
        if let Some(r) = peer.and_then(|p| c.readers.get_mut(&p)) {
            r.unacked_from_peer += 1;
        }
        self.messages.insert(
            message,
            MessageRef {
                conversation: conv,
                seq,
            },
        );
    }

    fn on_up_to(&mut self, up_to: MessageId, reader: &UserId, ack_at_ms: Option<u64>) {
        if let (Some(r), Some(u)) = (self.messages.get(&up_to).copied(), self.user_idx(reader)) {
            self.fold_up_to(r.conversation as usize, u, r.seq, ack_at_ms);
        }
    }

    fn on_mentioned(&mut self, message: MessageId, users: &[UserId], everyone: bool) {
        let Some(r) = self.messages.get(&message).copied() else {
            return;
        };
        let named: Vec<UserIdx> = users.iter().filter_map(|u| self.user_idx(u)).collect();
        let c = &mut self.conversations[r.conversation as usize];
        for u in named {
            if let Some(reader) = c.readers.get_mut(&u) {
                if reader.mentions.last() != Some(&r.seq) {
                    reader.mentions.push(r.seq);
                }
            }
        }
        if everyone && c.mention_all.last() != Some(&r.seq) {
            c.mention_all.push(r.seq);
        }
    }

    fn on_read_acked(&mut self, message: MessageId, reader: &UserId, at_ms: u64) {
        let (Some((conv, seq, sender)), Some(u)) = (self.locate(&message), self.user_idx(reader))
        else {
            return;
        };
        let c = &mut self.conversations[conv as usize];
        c.release_held(message, u);
        let record = &mut c.messages[seq as usize];
        if let Some(r) = c.readers.get_mut(&u) {
            if !record.has(FLAG_READ_ACKED) && seq >= r.ack_watermark {
                r.unacked_from_peer = r.unacked_from_peer.saturating_sub(1);
            }
            mark_read(r, seq, sender == u);
        }
        if !record.has(FLAG_READ_ACKED) {
            c.read_ack_at_ms.entry(seq).or_insert(at_ms);
        }
        record.flags |= FLAG_READ_ACKED;
    }

    fn on_group_read_acked(&mut self, message: MessageId, reader: &UserId, at_ms: u64) {
        let (Some((conv, seq, sender)), Some(u)) = (self.locate(&message), self.user_idx(reader))
        else {
            return;
        };
        let c = &mut self.conversations[conv as usize];
        c.release_held(message, u);
        let acks = c.messages[seq as usize]
            .group_acks
            .get_or_insert_with(Box::<GroupAcks>::default);
        acks.readers.push(u);
        acks.at_ms.push(at_ms);
        if let Some(r) = c.readers.get_mut(&u) {
            mark_read(r, seq, sender == u);
        }
    }

    /// Conversation index, sequence number and sender index of a message.
    fn locate(&self, message: &MessageId) -> Option<(ConvIdx, Seq, UserIdx)> {
        let r = self.messages.get(message)?;
        let sender = self.conversations[r.conversation as usize].messages[r.seq as usize].sender;
        Some((r.conversation, r.seq, sender))
    }

    fn reader_mut(
        &mut self,
        conversation: &ConversationId,
        user: &UserId,
    ) -> Option<ReaderSlot<'_>> {
        let conv = self.conversation_idx(conversation)?;
        self.reader_at(conv, user)
    }

    fn group_reader_mut(&mut self, group: &GroupId, user: &UserId) -> Option<ReaderSlot<'_>> {
        let conv = *self.group_index.get(group)?;
        self.reader_at(conv, user)
    }

    fn reader_at(&mut self, conv: ConvIdx, user: &UserId) -> Option<ReaderSlot<'_>> {
        let u = self.user_idx(user)?;
        let c = &mut self.conversations[conv as usize];
        let len = c.len();
        let recalls = c.recalls();
        let mention_alls = c.mention_alls();
        let reader = c.readers.get_mut(&u)?;
        Some(ReaderSlot {
            len,
            recalls,
            mention_alls,
            member_count: &mut c.member_count,
            reader,
        })
    }

    pub(crate) fn intern_user(&mut self, user: &UserId) -> UserIdx {
        if let Some(&u) = self.user_index.get(user) {
            return u;
        }
        // Interned users stay far below u32::MAX in any real deployment; saturate rather than wrap.
        let u = UserIdx::try_from(self.users.len()).unwrap_or(UserIdx::MAX);
        self.users.push(UserEntry {
            id: user.clone(),
            conversations: Vec::new(),
        });
        self.user_index.insert(user.clone(), u);
        u
    }

    fn new_conversation(&mut self, id: ConversationId) -> ConvIdx {
        // Conversations stay far below u32::MAX; saturate rather than wrap.
        let c = ConvIdx::try_from(self.conversations.len()).unwrap_or(ConvIdx::MAX);
        self.conversations.push(Conversation {
            id,
            messages: Vec::new(),
            readers: Default::default(),
            member_count: 0,
            read_ack_at_ms: Default::default(),
            recalled: Vec::new(),
            mention_all: Vec::new(),
            early_acks: Vec::new(),
            threads: Default::default(),
            following: Default::default(),
            thread_replies: 0,
        });
        c
    }

    pub(crate) fn intern_group(&mut self, group: &GroupId) -> ConvIdx {
        if let Some(&c) = self.group_index.get(group) {
            return c;
        }
        let c = self.new_conversation(ConversationId::Group(group.clone()));
        self.group_index.insert(group.clone(), c);
        c
    }

    /// The direct conversation of `low` and `high` (created with both as participants from its
    /// first message), with their interned indexes.
    pub(crate) fn intern_direct(
        &mut self,
        low: &UserId,
        high: &UserId,
    ) -> (ConvIdx, UserIdx, UserIdx) {
        let (l, h) = (self.intern_user(low), self.intern_user(high));
        if let Some(&c) = self.direct_index.get(&(l, h)) {
            return (c, l, h);
        }
        let c = self.new_conversation(ConversationId::Direct {
            low: low.clone(),
            high: high.clone(),
        });
        self.direct_index.insert((l, h), c);
        for u in [l, h] {
            self.conversations[c as usize]
                .readers
                .insert(u, ReaderState::participant_from(0));
            self.users[u as usize].conversations.push(c);
        }
        (c, l, h)
    }
}

/// One reader's state together with the conversation numbers an update needs, borrowed apart.
struct ReaderSlot<'a> {
    len: u32,
    recalls: u32,
    mention_alls: u32,
    member_count: &'a mut u32,
    reader: &'a mut ReaderState,
}

/// A conversation's counts a read of everything settles against.
struct Counts {
    len: u32,
    recalls: u32,
    mention_alls: u32,
}

impl ReaderSlot<'_> {
    fn counts(&self) -> Counts {
        Counts {
            len: self.len,
            recalls: self.recalls,
            mention_alls: self.mention_alls,
        }
    }
}

/// Marks one message read for a reader, if it counts for them and is not read yet.
fn mark_read(r: &mut ReaderState, seq: Seq, own: bool) {
    if own || r.has_read(seq) || !r.is_eligible(seq) {
        return;
    }
    r.reads_above.insert(seq);
    r.read_count += 1;
}

/// Marks every message so far read: the watermark moves to the end and the sparse set empties.
/// Amortized O(1): each entry cleared here was paid for when it was inserted.
fn mark_all_read(r: &mut ReaderState, at: &Counts) {
    r.read_watermark = at.len;
    r.reads_above.clear();
    r.read_count = r.eligible(at.len).saturating_sub(r.own_sent);
    crate::recall::settle_all_read(r, at.recalls);
    crate::mention::settle_mentions(r, at.mention_alls);
}
