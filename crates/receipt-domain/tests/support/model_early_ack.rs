//! The reference model of read acks ahead of their messages: a list per conversation, resolved
//! when the message is sent, by running the single ack then (or saying why not).

use super::{changed, no_op, Model, R};
use receipt_domain::*;

impl Model {
    pub(super) fn ack_in(
        &mut self,
        policy: &Policy,
        at_ms: u64,
        c: &ConversationId,
        message: MessageId,
        reader: &UserId,
    ) -> R {
        if let Some(m) = self.msgs.get(&message) {
            if &m.conversation != c {
                return Err(DomainError::MessageNotInConversation {
                    message,
                    conversation: c.clone(),
                });
            }
            return self.exec(policy, at_ms, &Self::single_ack(c, message, reader));
        }
        if self.is_reply(&message) {
            return Err(match self.located(message, c) {
                Err(DomainError::UnknownMessage(_)) => DomainError::ThreadReply(message),
                other => other.expect_err("a reply is not a message of the sequence"),
            });
        }
        if !policy.require_read_ack {
            return Err(DomainError::ReadAcksDisabled);
        }
        match c {
            ConversationId::Direct { .. } => {
                if c.peer_of(reader).is_none() {
                    return Err(DomainError::NotAParticipant {
                        user: reader.clone(),
                    });
                }
            }
            ConversationId::Group(g) => {
                if !policy.group_read_receipts {
                    return Err(DomainError::GroupReadReceiptsDisabled);
                }
                if !self.is_member(g, reader) {
                    return Err(DomainError::NotAMember {
                        user: reader.clone(),
                        group: g.clone(),
                    });
                }
            }
        }
        let held = self.held.get(c).cloned().unwrap_or_default();
        if held.iter().any(|(m, r, _)| *m == message && r == reader) {
            return no_op();
        }
        let max = policy.max_early_acks_per_conversation as usize;
        let max_total = policy.max_early_acks_total as usize;
        let expired_here = held.iter().filter(|(_, _, e)| *e < at_ms).count();
        let live_here = held.len() - expired_here;
        if live_here < max
            && self.held_total() - expired_here >= max_total
            && self.sweeps_when_total_full
        {
            // The engine drops the expired acks of every other conversation before it
            // refuses one for the total (each conversation's readers told in its own command).
            for other in self.held.keys().cloned().collect::<Vec<_>>() {
                if &other != c {
                    let _ = self.expire(at_ms, &other);
                }
            }
        }
        let total = self.held_total();
        let mut notifications = Vec::new();
        let mut kept = held;
        if kept.len() >= max || total >= max_total {
            let (expired, live): (Vec<_>, Vec<_>) = kept
                .into_iter()
                .partition(|(_, _, expires)| *expires < at_ms);
            if live.len() >= max {
                return Err(DomainError::EarlyAckBufferFull {
                    conversation: c.clone(),
                    max: policy.max_early_acks_per_conversation,
                });
            }
            if total - expired.len() >= max_total {
                return Err(DomainError::EarlyAcksFull {
                    max_total: policy.max_early_acks_total,
                });
            }
            for (m, r, _) in expired {
                notifications.push(Notification {
                    to: r,
                    kind: NotificationKind::EarlyAckDropped {
                        conversation: c.clone(),
                        message: m,
                        reason: EarlyAckDropReason::Expired,
                    },
                });
            }
            kept = live;
        }
        kept.push((
            message,
            reader.clone(),
            at_ms.saturating_add(policy.early_ack_ttl_ms),
        ));
        self.held.insert(c.clone(), kept);
        if let ConversationId::Direct { low, high } = c {
            // A held ack opens a direct chat before its first message.
            if !self.known(c) {
                self.opened.insert(c.clone());
            }
            self.add_conv(&low.clone(), c);
            self.add_conv(&high.clone(), c);
        }
        changed(notifications)
    }

    /// Read acks held in every conversation.
    pub(super) fn held_total(&self) -> usize {
        self.held.values().map(Vec::len).sum()
    }

    /// `ExpireEarlyAcks`: the acks of `c` past their time to live dropped, each reader told.
    pub(super) fn expire(&mut self, at_ms: u64, c: &ConversationId) -> R {
        let Some(list) = self.held.get_mut(c) else {
            return no_op();
        };
        let (expired, live): (Vec<_>, Vec<_>) = std::mem::take(list)
            .into_iter()
            .partition(|(_, _, expires)| *expires < at_ms);
        *list = live;
        if expired.is_empty() {
            return no_op();
        }
        changed(
            expired
                .into_iter()
                .map(|(m, r, _)| Notification {
                    to: r,
                    kind: NotificationKind::EarlyAckDropped {
                        conversation: c.clone(),
                        message: m,
                        reason: EarlyAckDropReason::Expired,
                    },
                })
                .collect(),
        )
    }

    /// After `message` was sent: each ack held for it applied as the single ack, or dropped
    /// with the reason; the notifications in that order.
    pub(super) fn apply_held(
        &mut self,
        policy: &Policy,
        at_ms: u64,
        message: MessageId,
    ) -> Vec<Notification> {
        let m = self.msgs[&message].clone();
        let c = m.conversation.clone();
        let Some(list) = self.held.get_mut(&c) else {
            return Vec::new();
        };
        let mine: Vec<(UserId, u64)> = list
            .iter()
            .filter(|(id, _, _)| *id == message)
            .map(|(_, r, e)| (r.clone(), *e))
            .collect();
        list.retain(|(id, _, _)| *id != message);
        let mut out = Vec::new();
        for (reader, expires) in mine {
            let reason = if at_ms > expires {
                Some(EarlyAckDropReason::Expired)
            } else if reader == m.sender {
                Some(EarlyAckDropReason::OwnMessage)
            } else if !policy.require_read_ack || (c.is_group() && !policy.group_read_receipts) {
                Some(EarlyAckDropReason::ReadAcksDisabled)
            } else if !m.recipients.contains(&reader) {
                Some(EarlyAckDropReason::NotARecipient)
            } else if c.is_group() && !m.group_ack {
                Some(EarlyAckDropReason::GroupAckNotRequested)
            } else {
                None
            };
            match reason {
                Some(reason) => out.push(Notification {
                    to: reader,
                    kind: NotificationKind::EarlyAckDropped {
                        conversation: c.clone(),
                        message,
                        reason,
                    },
                }),
                None => {
                    // The single ack's effect, now that the message exists.
                    let single = Self::single_ack(&c, message, &reader);
                    let effect = self.exec(policy, at_ms, &single).expect("a valid held ack");
                    out.extend(effect.notifications);
                }
            }
        }
        out
    }
}
