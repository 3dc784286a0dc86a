//! What a partition (one conversation's projections) tells the rest of the system without being
//! loaded: a small header per conversation and a compact summary per (user, conversation).
//!
//! A [`State`] that has folded only one conversation's stream is that conversation's partition:
//! `decide`, the fold, the queries and the notifications work on it unchanged, because every
//! command and every event concerns exactly one conversation. The badge and the conversation
//! list, which span conversations, are answered from [`ReaderSummary`] and
//! [`ConversationHeader`] values instead, so they never need a partition's message records.
//! Neither depends on any order across conversations: each is a function of one stream.

use crate::command::CommandKind;
use crate::event::EventBody;
use crate::ids::{ConversationId, UserId};
use crate::state::{ReaderState, State};
use serde::{Deserialize, Serialize};

/// The counters a user's unread count in one conversation is computed from, given the
/// conversation's length: unread = eligible(len) − own sent − read. A message sent to a group
/// moves only the length (in the header), never a summary per member.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderSummary {
    /// While a participant: the first message sequence that counts for this user.
    pub current_start: Option<u32>,
    /// Messages that counted for the user in participation intervals that have ended.
    pub past_len: u32,
    /// Messages the user sent in the conversation.
    pub own_sent: u32,
    /// Eligible messages from others the user has read.
    pub read_count: u32,
    /// Recalled messages that were unread for the user: no longer counted.
    pub recalled_unread: u32,
    /// How many of the conversation's recalls `recalled_unread` accounts for. Behind the
    /// header's `recalls`, the summary is stale and must be refreshed from the partition.
    pub recalls_seen: u32,
    /// Unread messages that mention the user (by name or as everyone).
    pub mentions: u32,
    /// How many of the conversation's `@all` messages `mentions` accounts for. Behind the
    /// header's `mention_alls`, the summary is stale, like a summary behind on recalls.
    pub mention_alls_seen: u32,
    /// How the user hears of the conversation.
    pub mode: crate::event::NotificationMode,
    /// Unread replies in the threads the user follows in the conversation (reported apart).
    pub thread_unread: u32,
    /// How many of the conversation's thread replies `thread_unread` accounts for. Behind the
    /// header's `thread_replies`, the summary is stale: a reply refreshes no follower's summary.
    pub thread_replies_seen: u32,
}

impl ReaderSummary {
    /// The user's unread count when the conversation holds `len` messages (valid when
    /// `recalls_seen` equals the header's `recalls`).
    pub fn unread(&self, len: u32) -> u32 {
        let eligible = self
            .past_len
            .saturating_add(self.current_start.map_or(0, |s| len.saturating_sub(s)));
        eligible
            .saturating_sub(self.own_sent)
            .saturating_sub(self.read_count)
            .saturating_sub(self.recalled_unread)
    }

    /// Whether a recall, an `@all` message or a thread reply since makes this summary stale.
    pub fn is_behind(&self, header: &ConversationHeader) -> bool {
        self.recalls_seen < header.recalls
            || self.mention_alls_seen < header.mention_alls
            || self.thread_replies_seen < header.thread_replies
    }

    /// What the conversation adds to the user's badge under their notification mode.
    pub fn badge(&self, len: u32) -> u32 {
        match self.mode {
            crate::event::NotificationMode::All => self.unread(len),
            crate::event::NotificationMode::MentionsOnly => self.mentions,
            crate::event::NotificationMode::Muted => 0,
        }
    }
}

/// One conversation's size and activity: what the badge and the conversation list need from a
/// partition besides the per-user summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationHeader {
    /// Messages in the conversation.
    pub len: u32,
    /// Current members (groups; 0 for direct chats).
    pub member_count: u32,
    /// When its newest message was sent (0 before the first message).
    pub last_message_at_ms: u64,
    /// Messages recalled in it: a summary that has seen fewer is stale.
    pub recalls: u32,
    /// Messages mentioning everyone in it: a summary that has seen fewer is stale.
    pub mention_alls: u32,
    /// Replies in its threads: a summary that has seen fewer is stale.
    pub thread_replies: u32,
}

impl State {
    /// Every conversation this state holds (one for a partition).
    pub fn conversation_ids(&self) -> impl Iterator<Item = &ConversationId> {
        self.conversations.iter().map(|c| &c.id)
    }

    /// The header of `conversation`, if this state knows it.
    pub fn header(&self, conversation: &ConversationId) -> Option<ConversationHeader> {
        let c = self.conversation(conversation)?;
        Some(ConversationHeader {
            len: c.len(),
            member_count: c.member_count,
            last_message_at_ms: c.messages.last().map_or(0, |m| m.sent_at_ms),
            recalls: c.recalls(),
            mention_alls: c.mention_alls(),
            thread_replies: c.thread_reply_count(),
        })
    }

    /// The summary of `user`'s read state in `conversation`, if they have one.
    pub fn reader_summary(
        &self,
        conversation: &ConversationId,
        user: &UserId,
    ) -> Option<ReaderSummary> {
        let c = self.conversation(conversation)?;
        let u = self.user_idx(user)?;
        c.readers.get(&u).map(|r| self.summary_of(c, u, r))
    }

    /// Every user with read state in `conversation`, with their summary. O(participants).
    pub fn reader_summaries(&self, conversation: &ConversationId) -> Vec<(UserId, ReaderSummary)> {
        let Some(c) = self.conversation(conversation) else {
            return Vec::new();
        };
        c.readers
            .iter()
            .map(|(&u, r)| (self.user_id(u).clone(), self.summary_of(c, u, r)))
            .collect()
    }

    /// An estimate of the heap bytes this state holds, for a memory budget. It counts the
    /// containers' capacities and the id strings; allocator overhead is not included.
    pub fn approx_heap_bytes(&self) -> usize {
        use std::mem::size_of;
        // A hash map entry costs its key and value plus a control byte; capacity is what it holds.
        fn map_bytes<K, V>(capacity: usize) -> usize {
            capacity * (size_of::<K>() + size_of::<V>() + 1)
        }
        let users: usize = self
            .users
            .iter()
            .map(|u| {
                // Interned twice (the vector and the index's key).
                2 * u.id.as_str().len()
                    + u.conversations.capacity() * size_of::<crate::state::ConvIdx>()
            })
            .sum();
        let conversations: usize = self
            .conversations
            .iter()
            .map(|c| {
                let acks: usize = c
                    .messages
                    .iter()
                    .filter_map(|m| m.group_acks.as_ref())
                    .map(|a| {
                        size_of::<crate::state::GroupAcks>()
                            + a.readers.capacity() * size_of::<u32>()
                            + a.at_ms.capacity() * size_of::<u64>()
                    })
                    .sum();
                let readers: usize = c
                    .readers
                    .values()
                    .map(|r| {
                        r.past.capacity() * size_of::<(u32, u32)>()
                            + r.reads_above.capacity() * (size_of::<u32>() + 1)
                            + r.ack_marks.capacity() * size_of::<(u32, u64)>()
                            + r.mentions.capacity() * size_of::<u32>()
                    })
                    .sum();
                c.messages.capacity() * size_of::<crate::state::MessageRecord>()
                    + acks
                    + map_bytes::<u32, ReaderState>(c.readers.capacity())
                    + map_bytes::<u32, u64>(c.read_ack_at_ms.capacity())
                    + c.recalled.capacity() * size_of::<u32>()
                    + c.mention_all.capacity() * size_of::<u32>()
                    + c.early_acks.capacity() * size_of::<crate::state::EarlyAck>()
                    + readers
                    + match &c.id {
                        ConversationId::Group(g) => g.as_str().len(),
                        ConversationId::Direct { low, high } => {
                            low.as_str().len() + high.as_str().len()
                        }
                    }
            })
            .sum();
        size_of::<State>()
            + self.users.capacity() * size_of::<crate::state::UserEntry>()
            + map_bytes::<UserId, u32>(self.user_index.capacity())
            + users
            + self.conversations.capacity() * size_of::<crate::state::Conversation>()
            + conversations
            + map_bytes::<crate::ids::GroupId, u32>(self.group_index.capacity())
            + map_bytes::<(u32, u32), u32>(self.direct_index.capacity())
            + map_bytes::<crate::ids::MessageId, crate::state::MessageRef>(self.messages.capacity())
    }
}

impl EventBody {
    /// Users whose [`ReaderSummary`] in this event's conversation the event may change (the
    /// direct chat's first message creates both participants' read state).
    pub fn summary_users(&self) -> Vec<&UserId> {
        match self {
            Self::MessageSent {
                conversation: ConversationId::Direct { low, high },
                ..
            } => vec![low, high],
            Self::MessageSent { sender, .. } => vec![sender],
            Self::Delivered { .. } => Vec::new(),
            Self::ReadAcked { reader, .. }
            | Self::ConversationAcked { reader, .. }
            | Self::GroupReadAcked { reader, .. }
            | Self::MessageMarkedRead { reader, .. }
            | Self::ConversationMarkedRead { reader, .. } => vec![reader],
            Self::MemberJoined { user, .. }
            | Self::MemberLeft { user, .. }
            | Self::MemberRoleChanged { user, .. } => vec![user],
            // A direct chat's two readers are refreshed at once; a group's members lazily: the
            // header's recall count tells a summary it is behind (see `ReaderSummary`).
            Self::MessageRecalled {
                conversation: ConversationId::Direct { low, high },
                ..
            } => vec![low, high],
            Self::MessageRecalled { .. } => Vec::new(),
            // Users mentioned by name are refreshed at once; `@all` lazily, like a recall.
            Self::UsersMentioned { users, .. } => users.iter().collect(),
            Self::NotificationModeChanged { user, .. } => vec![user],
            // A reply refreshes its sender only; every follower lazily, like a recall (the
            // header's reply count tells a summary it is behind).
            Self::ThreadReplySent { sender, .. } => vec![sender],
            Self::ThreadFollowChanged { user, .. } => vec![user],
            Self::ThreadRead { reader, .. } => vec![reader],
            Self::ConversationAckedUpTo { reader, .. }
            | Self::ConversationMarkedReadUpTo { reader, .. } => vec![reader],
            // A held ack may open a direct chat (both readers appear); otherwise the buffer is
            // the conversation's, not a reader's counters.
            Self::ReadAckBuffered {
                conversation: ConversationId::Direct { low, high },
                ..
            } => vec![low, high],
            Self::ReadAckBuffered { .. } | Self::EarlyAckDropped { .. } => Vec::new(),
        }
    }
}

impl CommandKind {
    /// The conversation a command concerns, when the command names it. Commands that name only
    /// a message concern the message's conversation, which the caller looks up.
    pub fn named_conversation(&self) -> Option<ConversationId> {
        match self {
            Self::SendMessage { conversation, .. }
            | Self::AckConversationRead { conversation, .. }
            | Self::MarkConversationRead { conversation, .. }
            | Self::AckMessagesRead { conversation, .. }
            | Self::SendMessageMentioning { conversation, .. }
            | Self::SetNotificationMode { conversation, .. }
            | Self::AckConversationReadUpTo { conversation, .. }
            | Self::MarkConversationReadUpTo { conversation, .. }
            | Self::AckMessageReadIn { conversation, .. }
            | Self::ExpireEarlyAcks { conversation }
            | Self::SendThreadReply { conversation, .. }
            | Self::FollowThread { conversation, .. }
            | Self::UnfollowThread { conversation, .. }
            | Self::MarkThreadRead { conversation, .. }
            | Self::AckThreadRead { conversation, .. } => Some(conversation.clone()),
            Self::JoinGroup { group, .. }
            | Self::LeaveGroup { group, .. }
            | Self::SetRole { group, .. }
            | Self::CreateGroup { group, .. }
            | Self::AddMembers { group, .. }
            | Self::RemoveMembers { group, .. } => Some(ConversationId::Group(group.clone())),
            Self::Deliver { .. }
            | Self::AckMessageRead { .. }
            | Self::AckGroupMessageRead { .. }
            | Self::MarkMessageRead { .. }
            | Self::RecallMessage { .. } => None,
        }
    }

    /// The message a command sends and the conversation it sends it in (a message, a message
    /// with mentions, a thread reply), if it sends one: what a service records to route the
    /// later commands that name only the message.
    pub fn sent_message(&self) -> Option<(crate::ids::MessageId, &ConversationId)> {
        match self {
            Self::SendMessage {
                conversation,
                message,
                ..
            }
            | Self::SendMessageMentioning {
                conversation,
                message,
                ..
            }
            | Self::SendThreadReply {
                conversation,
                message,
                ..
            } => Some((*message, conversation)),
            _ => None,
        }
    }

    /// The message a command names, if it names one instead of a conversation.
    pub fn named_message(&self) -> Option<crate::ids::MessageId> {
        match self {
            Self::Deliver { message, .. }
            | Self::AckMessageRead { message, .. }
            | Self::AckGroupMessageRead { message, .. }
            | Self::MarkMessageRead { message, .. }
            | Self::RecallMessage { message, .. } => Some(*message),
            _ => None,
        }
    }
}
