//! The reference model of the lists users ask for: unread members of a group message, a
//! user's first unread message. Written the obvious way, over the model's plain sets.

use super::Model;
use receipt_domain::*;
use std::collections::BTreeSet;

impl Model {
    /// Current members who received the message and have not acknowledged it, if the viewer
    /// may see its readers (the same errors as the reader list).
    pub fn unread_members(
        &self,
        policy: &Policy,
        viewer: &UserId,
        id: &MessageId,
    ) -> Result<BTreeSet<UserId>, QueryError> {
        self.group_acks(policy, viewer, id)?;
        let m = &self.msgs[id];
        let ConversationId::Group(g) = &m.conversation else {
            return Ok(BTreeSet::new()); // group acks are only ever requested in groups
        };
        Ok(m.recipients
            .iter()
            .filter(|u| self.is_member(g, u) && !m.acks.iter().any(|(a, _)| a == *u))
            .cloned()
            .collect())
    }

    /// The oldest message of `c` that counts as unread for `user`.
    pub fn first_unread(&self, user: &UserId, c: &ConversationId) -> Option<MessageId> {
        self.order
            .get(c)?
            .iter()
            .find(|id| {
                let m = &self.msgs[id];
                m.recipients.contains(user)
                    && !m.recalled
                    && !self.read.contains(&(user.clone(), **id))
            })
            .copied()
    }
}
