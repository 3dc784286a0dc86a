//! Lists users ask for beyond the seed: the members who have not read a group message (paged),
//! a user's read position (the first message they have not read), and the status of many
//! messages at once.

use crate::error::QueryError;
use crate::ids::{ConversationId, InvalidInput, MessageId, UserId};
use crate::policy::Policy;
use crate::query::{check_page_size, MessageStatus};
use crate::state::{State, FLAG_RECALLED};
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};

/// Where the next page of a group message's unread members starts. Stable: it counts users in
/// the order the conversation first saw them, which only ever grows at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MemberCursor(pub u32);

/// A page of the members who have not read a group message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadMembersPage {
    /// Members of this page, in the order the group first saw them.
    pub members: Vec<UserId>,
    /// `None` when this page reaches the end of the list as it is now.
    pub next: Option<MemberCursor>,
}

impl State {
    /// The members who have not read a group message with read receipts: current members who
    /// were members when it was sent, not its sender, who have not acknowledged it (a message
    /// read privately, without a receipt, counts as not read: the sender was never told). Only
    /// those who may see its reader list may ask (`Forbidden` otherwise). One page, cursor
    /// based like `fetch_group_acks`; O(users of the conversation scanned + acks).
    pub fn fetch_group_unread_members(
        &self,
        policy: &Policy,
        viewer: &UserId,
        message: &MessageId,
        cursor: Option<MemberCursor>,
        page_size: u32,
    ) -> Result<UnreadMembersPage, QueryError> {
        let record = self.visible_acks(policy, viewer, message)?;
        check_page_size(page_size)?;
        let Some((conv, _, seq)) = self.message(message) else {
            return Err(QueryError::UnknownMessage(*message)); // checked just above
        };
        let users = u32::try_from(self.users.len()).unwrap_or(u32::MAX);
        let start = cursor.map_or(0, |c| c.0);
        if start > users {
            return Err(InvalidInput::Cursor {
                cursor: start,
                len: users,
            }
            .into());
        }
        let acked: FxHashSet<u32> = record
            .group_acks
            .as_ref()
            .map(|a| a.readers.iter().copied().collect())
            .unwrap_or_default();
        let mut members = Vec::new();
        let mut next = None;
        for u in start..users {
            let unread = u != record.sender
                && !acked.contains(&u)
                && conv
                    .readers
                    .get(&u)
                    .is_some_and(|r| r.is_current() && r.is_eligible(seq));
            if !unread {
                continue;
            }
            if members.len() == page_size as usize {
                next = Some(MemberCursor(u));
                break;
            }
            members.push(self.user_id(u).clone());
        }
        Ok(UnreadMembersPage { members, next })
    }

    /// The first message of `conversation` that `user` has not read (their read position): the
    /// oldest message counted in their unread count. `None` when they have read everything
    /// (or never took part). O(messages from their read watermark to that message).
    pub fn first_unread_message(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Option<MessageId> {
        let conv = self.conversation(conversation)?;
        let u = self.user_idx(user)?;
        let r = conv.readers.get(&u)?;
        if conv.unread_of(u, r) == 0 {
            return None;
        }
        (r.read_watermark..conv.len())
            .find(|&seq| {
                let m = &conv.messages[seq as usize];
                m.sender != u
                    && !m.has(FLAG_RECALLED)
                    && r.is_eligible(seq)
                    && !r.reads_above.contains(&seq)
            })
            .map(|seq| conv.messages[seq as usize].id)
    }

    /// `message_status` of several messages at once, in the order given.
    pub fn message_statuses(
        &self,
        policy: &Policy,
        viewer: &UserId,
        messages: &[MessageId],
    ) -> Vec<Result<MessageStatus, QueryError>> {
        messages
            .iter()
            .map(|m| self.message_status(policy, viewer, m))
            .collect()
    }
}
