//! The reference model's answers: unread counts, conversation lists, badges, message status,
//! reader lists. Each walks the model's plain sets the obvious way.

use super::{Model, Msg};
use receipt_domain::*;

impl Model {
    pub fn conversation_of(&self, m: &MessageId) -> Option<ConversationId> {
        self.msgs.get(m).map(|m| m.conversation.clone())
    }

    pub fn unread(&self, u: &UserId, c: &ConversationId) -> u32 {
        self.order
            .get(c)
            .into_iter()
            .flatten()
            .filter(|id| {
                let m = &self.msgs[*id];
                m.recipients.contains(u) && !m.recalled && !self.read.contains(&(u.clone(), **id))
            })
            .count() as u32
    }

    /// Newest last message first, then by conversation id.
    pub fn conversations(&self, u: &UserId) -> Vec<ConversationUnread> {
        let last_at = |c: &ConversationId| {
            self.order
                .get(c)
                .and_then(|ids| ids.last())
                .map_or(0, |m| self.msgs[m].at_ms)
        };
        let mut list: Vec<&ConversationId> = self.conv_list.get(u).into_iter().flatten().collect();
        list.sort_by_key(|c| (std::cmp::Reverse(last_at(c)), (*c).clone()));
        list.into_iter()
            .map(|c| ConversationUnread {
                conversation: c.clone(),
                unread: self.unread(u, c),
                mentions: self.mentions(u, c),
                mode: self.mode(u, c),
                thread_unread: self.conversation_thread_unread(u, c),
                last_message_at_ms: last_at(c),
            })
            .collect()
    }

    pub fn total_unread(&self, u: &UserId) -> u64 {
        Badge::of(&self.conversations(u)).unread
    }

    pub fn member_count(&self, g: &GroupId) -> u32 {
        self.roster.get(g).map_or(0, |m| m.len() as u32)
    }

    fn may_see(&self, policy: &Policy, m: &Msg, viewer: &UserId) -> bool {
        &m.sender == viewer
            || (policy.group_ack_visibility == AckVisibility::AllMembers
                && match &m.conversation {
                    ConversationId::Group(g) => self.is_member(g, viewer),
                    _ => false,
                })
    }

    pub fn message_status(
        &self,
        policy: &Policy,
        viewer: &UserId,
        id: &MessageId,
    ) -> Result<MessageStatus, QueryError> {
        let m = self.msgs.get(id).ok_or(QueryError::UnknownMessage(*id))?;
        let is_sender = &m.sender == viewer;
        if !is_sender && !m.recipients.contains(viewer) {
            return Err(QueryError::NotARecipient {
                user: viewer.clone(),
                message: *id,
            });
        }
        let has_read = is_sender || self.read.contains(&(viewer.clone(), *id));
        if !m.conversation.is_group() {
            let acked = self.read_acked.contains(id);
            return Ok(MessageStatus {
                has_deliver_ack: Some(acked || self.delivered.contains(id)),
                has_read_ack: acked,
                has_read,
                group_ack_count: None,
                read_acked_at_ms: self.read_acked_at.get(id).copied(),
                recalled: m.recalled,
            });
        }
        let count = (m.group_ack && !m.recalled && self.may_see(policy, m, viewer))
            .then_some(m.acks.len() as u32);
        let own_ack = m.acks.iter().find(|(u, _)| u == viewer).map(|(_, at)| *at);
        Ok(MessageStatus {
            has_deliver_ack: None,
            has_read_ack: is_sender || own_ack.is_some(),
            has_read,
            group_ack_count: count,
            read_acked_at_ms: own_ack,
            recalled: m.recalled,
        })
    }

    /// The whole reader list, if the viewer may see it.
    pub fn group_acks(
        &self,
        policy: &Policy,
        viewer: &UserId,
        id: &MessageId,
    ) -> Result<Vec<GroupAckEntry>, QueryError> {
        let m = self.msgs.get(id).ok_or(QueryError::UnknownMessage(*id))?;
        if m.recalled {
            return Err(QueryError::MessageRecalled(*id));
        }
        if !self.may_see(policy, m, viewer) {
            return Err(QueryError::Forbidden {
                viewer: viewer.clone(),
                message: *id,
            });
        }
        if !m.group_ack {
            return Err(QueryError::GroupAckNotRequested(*id));
        }
        Ok(m.acks
            .iter()
            .map(|(u, at)| GroupAckEntry {
                reader: u.clone(),
                at_ms: *at,
            })
            .collect())
    }
}
