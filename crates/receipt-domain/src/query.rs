//! Queries over the projections: unread counts, per-viewer message status, group ack counts and
//! the paged reader list. Unread and ack count are O(1); the badge is O(conversations of the user).

use crate::error::QueryError;
use crate::event::NotificationMode;
use crate::ids::{ConversationId, InvalidInput, MessageId, UserId};
use crate::policy::{AckVisibility, Policy};
use crate::state::{
    Conversation, MessageRecord, State, FLAG_DELIVERED, FLAG_GROUP_ACK, FLAG_READ_ACKED,
    FLAG_RECALLED,
};
use serde::{Deserialize, Serialize};

/// Largest page `fetch_group_acks` returns.
pub const MAX_ACK_PAGE_SIZE: u32 = 1000;

/// A conversation with the user's unread count in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationUnread {
    /// The conversation.
    pub conversation: ConversationId,
    /// The user's unread count in it (whatever the notification mode).
    pub unread: u32,
    /// Of those, the messages that mention the user (by name or as everyone).
    pub mentions: u32,
    /// How the user hears of it: what it adds to the badge.
    pub mode: NotificationMode,
    /// Unread replies in the threads the user follows in it, apart from `unread`.
    pub thread_unread: u32,
    /// When its last message was sent (Unix ms; 0 before any): what the list is ordered by, and
    /// how lists gathered from several engine processes merge ([`order_conversation_list`]).
    pub last_message_at_ms: u64,
}

impl ConversationUnread {
    /// What this conversation adds to the user's badge under their notification mode.
    pub fn badge(&self) -> u32 {
        match self.mode {
            NotificationMode::All => self.unread,
            NotificationMode::MentionsOnly => self.mentions,
            NotificationMode::Muted => 0,
        }
    }
}

/// A user's badge: unread messages and mentions over their conversations, each conversation
/// counted as its notification mode says (a muted one not at all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Badge {
    /// Unread messages (only mentions, for conversations in `MentionsOnly` mode).
    pub unread: u64,
    /// Unread messages that mention the user, in conversations not muted.
    pub mentions: u64,
    /// Unread thread replies, in conversations not muted or mentions-only (apart from
    /// `unread` unless the policy counts them in it: see [`Badge::under`]).
    pub thread_unread: u64,
}

/// Badges of disjoint sets of conversations add up to the badge of them all: how a service
/// gathers a user's badge from the engine processes that own parts of the conversations.
impl std::iter::Sum for Badge {
    fn sum<I: Iterator<Item = Badge>>(parts: I) -> Self {
        parts.fold(Badge::default(), |total, part| Badge {
            unread: total.unread + part.unread,
            mentions: total.mentions + part.mentions,
            thread_unread: total.thread_unread + part.thread_unread,
        })
    }
}

impl Badge {
    /// The badge of a conversation list.
    pub fn of(list: &[ConversationUnread]) -> Self {
        let mut badge = Self::default();
        for c in list {
            badge.unread += u64::from(c.badge());
            if c.mode != NotificationMode::Muted {
                badge.mentions += u64::from(c.mentions);
            }
            if c.mode == NotificationMode::All {
                badge.thread_unread += u64::from(c.thread_unread);
            }
        }
        badge
    }

    /// The badge as `policy` counts it: thread replies in `unread` too when
    /// `Policy::thread_unread_in_total` says so (Easemob leaves them out: the default).
    pub fn under(self, policy: &crate::policy::Policy) -> Self {
        if policy.thread_unread_in_total {
            Self {
                unread: self.unread + self.thread_unread,
                ..self
            }
        } else {
            self
        }
    }
}

/// The SDK's per-message local fields, as seen by one viewer (spec §4.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageStatus {
    /// `None` for group messages: group chats have no delivery receipts.
    pub has_deliver_ack: Option<bool>,
    /// The recipient sent a read receipt for it.
    pub has_read_ack: bool,
    /// The *viewer's own* read state (the SDK's `hasRead`): whether the viewer has read the
    /// message, with or without sending a receipt. A sender has always read their own message,
    /// so the sender sees `true` right after sending; whether the recipient read it is
    /// `has_read_ack` (direct) or the reader list (groups).
    pub has_read: bool,
    /// `None` for direct messages, for group messages sent without receipts, and for viewers who
    /// may not see the count.
    pub group_ack_count: Option<u32>,
    /// When the read receipt was recorded, in milliseconds since the Unix epoch: a direct
    /// message's (by a message or a conversation ack, whichever came first), or in a group the
    /// viewer's own ack. `None` when there is none (and for a group message's sender: its
    /// readers' times are in `fetch_group_acks`).
    pub read_acked_at_ms: Option<u64>,
    /// The message was recalled: it counts in nobody's unread any more, and its reader list
    /// and ack count are gone.
    pub recalled: bool,
}

/// Where the next page of readers starts. Stable: the reader list only ever grows at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AckCursor(pub u32);

/// One reader in a group message's read-ack list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupAckEntry {
    /// The user who read.
    pub reader: UserId,
    /// When the ack was recorded, in milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// A page of a group message's read-ack list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupAckPage {
    /// The entries of this page, oldest ack first.
    pub entries: Vec<GroupAckEntry>,
    /// `None` when this page reaches the end of the list as it is now.
    pub next: Option<AckCursor>,
}

/// One participant of a conversation, for inspection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantSummary {
    /// The participant.
    pub user: UserId,
    /// Their unread count in the conversation.
    pub unread: u32,
    /// Still a participant (always true in a direct chat; false for members who left a group).
    pub current: bool,
    /// Their role, if they are a current member.
    pub role: Option<crate::event::Role>,
}

/// What the engine knows about one conversation, for inspection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    /// The conversation.
    pub conversation: ConversationId,
    /// Messages in the conversation.
    pub messages: u32,
    /// Current members (groups) or 2 (direct chats).
    pub members: u32,
    /// Everyone with read state here, ordered by user id.
    pub participants: Vec<ParticipantSummary>,
}

/// A page of a reader list holds 1 to [`MAX_ACK_PAGE_SIZE`] entries.
pub(crate) fn check_page_size(page_size: u32) -> Result<(), QueryError> {
    if page_size == 0 || page_size > MAX_ACK_PAGE_SIZE {
        return Err(InvalidInput::PageSize {
            page_size,
            max: MAX_ACK_PAGE_SIZE,
        }
        .into());
    }
    Ok(())
}

/// Orders a conversation list the way chat clients show it: the conversation whose last message
/// is newest first, ties by conversation id. It needs no order across conversations' streams,
/// so partitions (and engine processes owning some of them) can answer apart: the lists of
/// several processes, put together and ordered by this, are the list one engine would give.
pub fn order_conversation_list(list: &mut [ConversationUnread]) {
    list.sort_by(|a, b| {
        b.last_message_at_ms
            .cmp(&a.last_message_at_ms)
            .then_with(|| a.conversation.cmp(&b.conversation))
    });
}

impl State {
    /// Who sent a message.
    pub fn message_sender(&self, message: &MessageId) -> Option<UserId> {
        self.message(message)
            .map(|(_, r, _)| self.user_id(r.sender).clone())
    }

    /// Every user the projections know, in the order they first appeared.
    pub fn users(&self) -> impl Iterator<Item = &UserId> {
        self.users.iter().map(|u| &u.id)
    }

    /// A summary of one conversation, or `None` if nothing happened in it. O(participants).
    pub fn conversation_summary(
        &self,
        conversation: &ConversationId,
    ) -> Option<ConversationSummary> {
        let conv = self.conversation(conversation)?;
        let mut participants: Vec<ParticipantSummary> = conv
            .readers
            .iter()
            .map(|(&u, r)| ParticipantSummary {
                user: self.user_id(u).clone(),
                unread: conv.unread_of(u, r),
                current: r.is_current(),
                role: r.role,
            })
            .collect();
        participants.sort_by(|a, b| a.user.cmp(&b.user));
        Some(ConversationSummary {
            conversation: conversation.clone(),
            messages: conv.len(),
            members: if conversation.is_group() {
                conv.member_count
            } else {
                2
            },
            participants,
        })
    }

    /// Unread messages for `user` in `conversation` (0 if the user has nothing there).
    pub fn unread_count(&self, user: &UserId, conversation: &ConversationId) -> u32 {
        self.conversation(conversation)
            .and_then(|c| {
                let u = self.user_idx(user)?;
                Some(c.unread_of(u, c.readers.get(&u)?))
            })
            .unwrap_or(0)
    }

    /// The badge: unread messages over all the user's conversations, each as its
    /// notification mode says (a muted conversation adds nothing, one in mentions-only mode
    /// its mentions).
    pub fn total_unread(&self, user: &UserId) -> u64 {
        self.badge(user).unread
    }

    /// The badge with unread messages, mentions and thread replies apart (thread replies not
    /// in `unread`: see [`Badge::under`] for the policy that counts them there).
    pub fn badge(&self, user: &UserId) -> Badge {
        Badge::of(&self.conversations(user))
    }

    /// Unread messages that mention `user` in `conversation` (0 if the user has nothing there).
    pub fn mention_count(&self, user: &UserId, conversation: &ConversationId) -> u32 {
        self.conversation(conversation)
            .and_then(|c| {
                let u = self.user_idx(user)?;
                Some(c.mentions_of(u, c.readers.get(&u)?))
            })
            .unwrap_or(0)
    }

    /// Every conversation the user has taken part in (including groups since left), with the
    /// unread count of each, newest activity first: by the time of the conversation's last
    /// message, descending, then by conversation id (see [`order_conversation_list`]).
    pub fn conversations(&self, user: &UserId) -> Vec<ConversationUnread> {
        let Some(u) = self.user_idx(user) else {
            return Vec::new();
        };
        let mut list: Vec<ConversationUnread> = self.users[u as usize]
            .conversations
            .iter()
            .filter_map(|&c| {
                let conv = &self.conversations[c as usize];
                let r = conv.readers.get(&u)?;
                Some(ConversationUnread {
                    conversation: conv.id.clone(),
                    unread: conv.unread_of(u, r),
                    mentions: conv.mentions_of(u, r),
                    mode: r.mode,
                    thread_unread: conv.thread_unread_of(u),
                    last_message_at_ms: conv.messages.last().map_or(0, |m| m.sent_at_ms),
                })
            })
            .collect();
        order_conversation_list(&mut list);
        list
    }

    /// Current members of a group (0 for an unknown group).
    pub fn member_count(&self, group: &crate::ids::GroupId) -> u32 {
        self.conversation(&ConversationId::Group(group.clone()))
            .map_or(0, |c| c.member_count)
    }

    /// The message's receipt fields as `viewer` sees them; only its sender and recipients may ask.
    pub fn message_status(
        &self,
        policy: &Policy,
        viewer: &UserId,
        message: &MessageId,
    ) -> Result<MessageStatus, QueryError> {
        let (conv, record, seq) = self
            .message(message)
            .ok_or(QueryError::UnknownMessage(*message))?;
        let not_recipient = || QueryError::NotARecipient {
            user: viewer.clone(),
            message: *message,
        };
        let is_sender = self.user_id(record.sender) == viewer;
        let recalled = record.has(FLAG_RECALLED);
        if !conv.id.is_group() {
            let recipient = conv
                .id
                .peer_of(self.user_id(record.sender))
                .and_then(|recipient| self.reader(conv, recipient));
            let acked =
                record.has(FLAG_READ_ACKED) || recipient.is_some_and(|r| seq < r.ack_watermark);
            let read_acked_at_ms = conv.read_ack_at_ms.get(&seq).copied().or_else(|| {
                // The first conversation ack whose watermark passed the message.
                let marks = &recipient?.ack_marks;
                marks
                    .get(marks.partition_point(|m| m.0 <= seq))
                    .map(|m| m.1)
            });
            let has_read = if is_sender {
                true
            } else {
                let r = self.reader(conv, viewer).ok_or_else(not_recipient)?;
                r.has_read(seq)
            };
            return Ok(MessageStatus {
                has_deliver_ack: Some(record.has(FLAG_DELIVERED) || acked),
                has_read_ack: acked,
                has_read,
                group_ack_count: None,
                read_acked_at_ms,
                recalled,
            });
        }
        let count = (record.has(FLAG_GROUP_ACK) && !recalled).then(|| record.group_ack_count());
        if is_sender {
            return Ok(MessageStatus {
                has_deliver_ack: None,
                has_read_ack: true,
                has_read: true,
                group_ack_count: count,
                read_acked_at_ms: None,
                recalled,
            });
        }
        let r = self
            .reader(conv, viewer)
            .filter(|r| r.is_eligible(seq))
            .ok_or_else(not_recipient)?;
        let acked_at_ms = self.user_idx(viewer).and_then(|u| {
            let acks = record.group_acks.as_ref()?;
            let i = acks.readers.iter().position(|&r| r == u)?;
            acks.at_ms.get(i).copied()
        });
        Ok(MessageStatus {
            has_deliver_ack: None,
            has_read_ack: acked_at_ms.is_some(),
            has_read: r.has_read(seq),
            group_ack_count: count.filter(|_| self.may_see_acks(policy, conv, record, viewer)),
            read_acked_at_ms: acked_at_ms,
            recalled,
        })
    }

    /// `groupAckCount`: distinct members who acked the message.
    pub fn group_ack_count(
        &self,
        policy: &Policy,
        viewer: &UserId,
        message: &MessageId,
    ) -> Result<u32, QueryError> {
        Ok(self
            .visible_acks(policy, viewer, message)?
            .group_ack_count())
    }

    /// `fetchGroupAcks`: one page of readers, in ack order.
    pub fn fetch_group_acks(
        &self,
        policy: &Policy,
        viewer: &UserId,
        message: &MessageId,
        cursor: Option<AckCursor>,
        page_size: u32,
    ) -> Result<GroupAckPage, QueryError> {
        let record = self.visible_acks(policy, viewer, message)?;
        check_page_size(page_size)?;
        let len = record.group_ack_count();
        let start = cursor.map_or(0, |c| c.0);
        if start > len {
            return Err(InvalidInput::Cursor { cursor: start, len }.into());
        }
        let end = start.saturating_add(page_size).min(len);
        let entries = match &record.group_acks {
            Some(acks) => (start..end)
                .map(|i| GroupAckEntry {
                    reader: self.user_id(acks.readers[i as usize]).clone(),
                    at_ms: acks.at_ms[i as usize],
                })
                .collect(),
            None => Vec::new(),
        };
        Ok(GroupAckPage {
            entries,
            next: (end < len).then_some(AckCursor(end)),
        })
    }

    /// The record of a group-ack message, once `viewer` is known to be allowed to see its acks.
    pub(crate) fn visible_acks(
        &self,
        policy: &Policy,
        viewer: &UserId,
        message: &MessageId,
    ) -> Result<&MessageRecord, QueryError> {
        let (conv, record, _) = self
            .message(message)
            .ok_or(QueryError::UnknownMessage(*message))?;
        if record.has(FLAG_RECALLED) {
            return Err(QueryError::MessageRecalled(*message));
        }
        if !self.may_see_acks(policy, conv, record, viewer) {
            return Err(QueryError::Forbidden {
                viewer: viewer.clone(),
                message: *message,
            });
        }
        if !record.has(FLAG_GROUP_ACK) {
            return Err(QueryError::GroupAckNotRequested(*message));
        }
        Ok(record)
    }

    /// The sender always; every current member of the group when policy opens the list to them.
    fn may_see_acks(
        &self,
        policy: &Policy,
        conv: &Conversation,
        record: &MessageRecord,
        viewer: &UserId,
    ) -> bool {
        self.user_id(record.sender) == viewer
            || (policy.group_ack_visibility == AckVisibility::AllMembers
                && conv.id.is_group()
                && self.reader(conv, viewer).is_some_and(|r| r.is_current()))
    }
}
