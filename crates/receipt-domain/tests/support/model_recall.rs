//! The reference model of recall: a flag on the message, which every count and list then
//! leaves out.

use super::{changed, no_op, Model, R};
use receipt_domain::*;

impl Model {
    pub(super) fn recall(&mut self, policy: &Policy, at_ms: u64, id: MessageId, by: &UserId) -> R {
        let m = self.msg(id)?.clone();
        if m.recalled {
            return no_op();
        }
        if &m.sender == by {
            let age_ms = at_ms.saturating_sub(m.at_ms);
            if age_ms > policy.recall_window_ms {
                return Err(DomainError::RecallWindowExpired {
                    message: id,
                    age_ms,
                    window_ms: policy.recall_window_ms,
                });
            }
        } else {
            let moderator = match &m.conversation {
                ConversationId::Group(g) => self
                    .roster
                    .get(g)
                    .and_then(|r| r.get(by))
                    .is_some_and(|role| matches!(role, Role::Owner | Role::Admin)),
                ConversationId::Direct { .. } => false,
            };
            if !moderator {
                return Err(DomainError::RecallNotPermitted {
                    user: by.clone(),
                    message: id,
                });
            }
        }
        if let Some(entry) = self.msgs.get_mut(&id) {
            entry.recalled = true;
        }
        // The peer of a direct chat, the sender, and whoever recalled it, each once.
        let mut to: Vec<UserId> = m
            .conversation
            .peer_of(&m.sender)
            .cloned()
            .into_iter()
            .collect();
        to.push(m.sender.clone());
        if !to.contains(by) {
            to.push(by.clone());
        }
        changed(
            to.into_iter()
                .map(|to| Notification {
                    to,
                    kind: NotificationKind::MessageRecalled {
                        conversation: m.conversation.clone(),
                        message: id,
                        by: by.clone(),
                    },
                })
                .collect(),
        )
    }
}
