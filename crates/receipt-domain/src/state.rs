//! The projection state: everything `decide` and the queries need, built only by folding events.
//!
//! Layout, chosen so that folding one event is O(1) whatever the group size or the number of
//! messages a conversation-wide read covers:
//! - ids are interned: users and conversations become `u32` indexes, a message becomes
//!   (conversation index, sequence number within the conversation);
//! - a message record holds only sender, time, flags and (for group-ack messages) its ack list;
//! - per (user, conversation) a [`ReaderState`] keeps a read watermark plus a sparse set of reads
//!   above it, and membership intervals over the conversation's message sequence. Unread counts
//!   are then arithmetic on counters, never a walk over messages or members.

use crate::event::Role;
use crate::ids::{ConversationId, GroupId, MessageId, UserId};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

pub(crate) type UserIdx = u32;
pub(crate) type ConvIdx = u32;
/// Position of a message in its conversation's message sequence.
pub(crate) type Seq = u32;

pub(crate) const FLAG_DELIVERED: u8 = 1;
pub(crate) const FLAG_READ_ACKED: u8 = 2;
pub(crate) const FLAG_GROUP_ACK: u8 = 4;
pub(crate) const FLAG_RECALLED: u8 = 8;

/// All projections, serializable so the storage layer can snapshot it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    #[serde(deserialize_with = "crate::bounded_serde::vec")]
    pub(crate) users: Vec<UserEntry>,
    #[serde(deserialize_with = "crate::bounded_serde::map")]
    pub(crate) user_index: FxHashMap<UserId, UserIdx>,
    #[serde(deserialize_with = "crate::bounded_serde::vec")]
    pub(crate) conversations: Vec<Conversation>,
    /// Group conversations by group id.
    #[serde(deserialize_with = "crate::bounded_serde::map")]
    pub(crate) group_index: FxHashMap<GroupId, ConvIdx>,
    /// Direct conversations by the interned indexes of their (low, high) users: a lookup after
    /// interning hashes two integers instead of two strings.
    #[serde(deserialize_with = "crate::bounded_serde::map")]
    pub(crate) direct_index: FxHashMap<(UserIdx, UserIdx), ConvIdx>,
    #[serde(deserialize_with = "crate::bounded_serde::map")]
    pub(crate) messages: FxHashMap<MessageId, MessageRef>,
    /// Thread replies by id: where each is (src/thread.rs). Apart from `messages`, because a
    /// reply is not in its conversation's message sequence.
    #[serde(deserialize_with = "crate::bounded_serde::map")]
    pub(crate) replies: FxHashMap<MessageId, ReplyRef>,
    /// Number of events folded into this state.
    pub(crate) events_applied: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct UserEntry {
    pub(crate) id: UserId,
    /// Every conversation the user has read state in, in the order they first appeared.
    #[serde(deserialize_with = "crate::bounded_serde::vec")]
    pub(crate) conversations: Vec<ConvIdx>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MessageRef {
    pub(crate) conversation: ConvIdx,
    pub(crate) seq: Seq,
}

/// Where a thread reply is: its conversation, its thread's root and its place in the thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReplyRef {
    pub(crate) conversation: ConvIdx,
    pub(crate) root: Seq,
    pub(crate) index: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Conversation {
    pub(crate) id: ConversationId,
    #[serde(deserialize_with = "crate::bounded_serde::vec")]
    pub(crate) messages: Vec<MessageRecord>,
    #[serde(deserialize_with = "crate::bounded_serde::map")]
    pub(crate) readers: FxHashMap<UserIdx, ReaderState>,
    /// Current group members (0 for direct conversations, which have no roster).
    pub(crate) member_count: u32,
    /// Direct chats: when each message acknowledged on its own (`ReadAcked`) was acknowledged,
    /// in milliseconds. Sparse: messages acknowledged by a conversation ack are found through
    /// the reader's `ack_marks`.
    #[serde(deserialize_with = "crate::bounded_serde::map")]
    pub(crate) read_ack_at_ms: FxHashMap<Seq, u64>,
    /// Recalled messages, in the order they were recalled (src/recall.rs).
    #[serde(deserialize_with = "crate::bounded_serde::vec")]
    pub(crate) recalled: Vec<Seq>,
    /// Messages that mention everyone (`@all`), oldest first (src/mention.rs).
    #[serde(deserialize_with = "crate::bounded_serde::vec")]
    pub(crate) mention_all: Vec<Seq>,
    /// Read acks held for messages not sent yet, oldest first (src/early_ack.rs).
    #[serde(deserialize_with = "crate::bounded_serde::vec")]
    pub(crate) early_acks: Vec<EarlyAck>,
    /// Threads, by their root message's sequence (src/thread.rs).
    #[serde(deserialize_with = "crate::bounded_serde::map")]
    pub(crate) threads: FxHashMap<Seq, crate::thread::Thread>,
    /// The threads each user follows now, by root sequence (so leaving the group unfollows
    /// them without a walk over the conversation's threads).
    #[serde(deserialize_with = "crate::bounded_serde::map")]
    pub(crate) following: FxHashMap<UserIdx, crate::thread::Roots>,
    /// Replies in all of its threads: a summary that has seen fewer is stale.
    pub(crate) thread_replies: u32,
}

/// A read ack held for a message not sent yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EarlyAck {
    pub(crate) message: MessageId,
    pub(crate) reader: UserIdx,
    pub(crate) expires_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MessageRecord {
    /// The message's id: what a position in the conversation is answered with.
    pub(crate) id: MessageId,
    pub(crate) sent_at_ms: u64,
    /// Boxed and allocated on the first ack, so a message without acks pays 8 bytes for it.
    pub(crate) group_acks: Option<Box<GroupAcks>>,
    pub(crate) sender: UserIdx,
    pub(crate) flags: u8,
}

/// Readers of one group message, in ack order (parallel vectors: 12 bytes per ack).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct GroupAcks {
    #[serde(deserialize_with = "crate::bounded_serde::vec")]
    pub(crate) readers: Vec<UserIdx>,
    #[serde(deserialize_with = "crate::bounded_serde::vec")]
    pub(crate) at_ms: Vec<u64>,
}

/// One user's read state in one conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReaderState {
    /// Group role while a current member; `None` otherwise (and always for direct chats).
    pub(crate) role: Option<Role>,
    /// While a participant: the first message sequence that counts for this user.
    pub(crate) current_start: Option<Seq>,
    /// Closed participation intervals `[start, end)`, oldest first.
    #[serde(deserialize_with = "crate::bounded_serde::vec")]
    pub(crate) past: Vec<(Seq, Seq)>,
    /// Total length of `past`.
    pub(crate) past_len: u32,
    /// Messages this user sent here (always while a participant).
    pub(crate) own_sent: u32,
    /// Eligible messages from others that this user has read.
    pub(crate) read_count: u32,
    /// Every eligible message with `seq < read_watermark` is read.
    pub(crate) read_watermark: Seq,
    /// Eligible messages at or above the watermark read one by one.
    #[serde(deserialize_with = "crate::bounded_serde::set")]
    pub(crate) reads_above: FxHashSet<Seq>,
    /// Direct chats: every message from the peer with `seq < ack_watermark` is acked.
    pub(crate) ack_watermark: Seq,
    /// Direct chats: messages from the peer not yet acked, so a conversation ack knows if it is a
    /// no-op without walking the conversation.
    pub(crate) unacked_from_peer: u32,
    /// Direct chats: each conversation ack that moved `ack_watermark`, as (the watermark it set,
    /// when, in milliseconds), oldest first; the watermarks rise, so the ack time of a message
    /// below the watermark is one binary search away.
    #[serde(deserialize_with = "crate::bounded_serde::vec")]
    pub(crate) ack_marks: Vec<(Seq, u64)>,
    /// The conversation's first `recalls_seen` recalls were read by this reader when they last
    /// read everything; later ones are counted when asked (src/recall.rs), so a recall never
    /// walks a group's members.
    pub(crate) recalls_seen: u32,
    /// Messages that mention this reader by name since they last read everything, oldest
    /// first (src/mention.rs).
    #[serde(deserialize_with = "crate::bounded_serde::vec")]
    pub(crate) mentions: Vec<Seq>,
    /// The conversation's first `mention_alls_seen` `@all` messages were read when this reader
    /// last read everything.
    pub(crate) mention_alls_seen: u32,
    /// How the reader hears of the conversation (what it adds to their badge).
    pub(crate) mode: crate::event::NotificationMode,
}

impl ReaderState {
    pub(crate) fn participant_from(start: Seq) -> Self {
        Self {
            current_start: Some(start),
            ..Self::default()
        }
    }

    pub(crate) fn is_current(&self) -> bool {
        self.current_start.is_some()
    }

    /// Messages among the first `len` that fall in this user's participation intervals.
    pub(crate) fn eligible(&self, len: u32) -> u32 {
        // Saturating: the fold keeps this far below u32::MAX; a forged state cannot wrap it.
        self.past_len
            .saturating_add(self.current_start.map_or(0, |s| len.saturating_sub(s)))
    }

    /// Whether message `seq` was sent while this user was a participant.
    pub(crate) fn is_eligible(&self, seq: Seq) -> bool {
        self.current_start.is_some_and(|s| seq >= s)
            || self.past.iter().any(|&(a, b)| a <= seq && seq < b)
    }

    pub(crate) fn has_read(&self, seq: Seq) -> bool {
        seq < self.read_watermark || self.reads_above.contains(&seq)
    }

    pub(crate) fn unread(&self, len: u32) -> u32 {
        self.eligible(len)
            .saturating_sub(self.own_sent)
            .saturating_sub(self.read_count)
    }
}

impl MessageRecord {
    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    pub(crate) fn group_ack_count(&self) -> u32 {
        // A message's acks are bounded by the members at send time, which is a u32.
        self.group_acks
            .as_ref()
            .map_or(0, |a| u32::try_from(a.readers.len()).unwrap_or(u32::MAX))
    }

    pub(crate) fn group_acked_by(&self, user: UserIdx) -> bool {
        self.group_acks
            .as_ref()
            .is_some_and(|a| a.readers.contains(&user))
    }
}

/// Read-only lookups shared by decide, queries and notifications.
impl State {
    /// An empty state: no conversations, no messages.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many events have been folded in.
    pub fn events_applied(&self) -> u64 {
        self.events_applied
    }

    /// How many messages the state holds.
    pub fn message_count(&self) -> usize {
        self.messages.len()
    }

    pub(crate) fn user_idx(&self, user: &UserId) -> Option<UserIdx> {
        self.user_index.get(user).copied()
    }

    pub(crate) fn user_id(&self, idx: UserIdx) -> &UserId {
        &self.users[idx as usize].id
    }

    pub(crate) fn conversation_idx(&self, id: &ConversationId) -> Option<ConvIdx> {
        match id {
            ConversationId::Group(g) => self.group_index.get(g).copied(),
            ConversationId::Direct { low, high } => {
                let key = (self.user_idx(low)?, self.user_idx(high)?);
                self.direct_index.get(&key).copied()
            }
        }
    }

    pub(crate) fn conversation(&self, id: &ConversationId) -> Option<&Conversation> {
        self.conversation_idx(id)
            .map(|c| &self.conversations[c as usize])
    }

    /// The message's conversation, its record and its sequence number.
    pub(crate) fn message(&self, id: &MessageId) -> Option<(&Conversation, &MessageRecord, Seq)> {
        let r = self.messages.get(id)?;
        let conv = &self.conversations[r.conversation as usize];
        Some((conv, &conv.messages[r.seq as usize], r.seq))
    }

    pub(crate) fn reader<'c>(
        &self,
        conv: &'c Conversation,
        user: &UserId,
    ) -> Option<&'c ReaderState> {
        conv.readers.get(&self.user_idx(user)?)
    }
}

impl Conversation {
    pub(crate) fn len(&self) -> u32 {
        // Message sequence numbers are u32 by construction (see `State::apply`).
        u32::try_from(self.messages.len()).unwrap_or(u32::MAX)
    }
}
