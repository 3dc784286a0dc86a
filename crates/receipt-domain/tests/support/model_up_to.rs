//! The reference model of "read up to message X": the conversation-wide commands, restricted
//! to the messages up to and including X.

use super::{changed, no_op, Model, R};
use receipt_domain::*;

impl Model {
    /// Runs an up-to command; `None` for any other kind.
    pub(super) fn exec_up_to(
        &mut self,
        policy: &Policy,
        at_ms: u64,
        cmd: &CommandKind,
    ) -> Option<R> {
        match cmd {
            CommandKind::MarkConversationReadUpTo {
                conversation,
                reader,
                up_to,
            } => Some(self.mark_up_to(conversation, reader, *up_to)),
            CommandKind::AckConversationReadUpTo {
                conversation,
                reader,
                up_to,
            } => Some(self.ack_up_to(policy, at_ms, conversation, reader, *up_to)),
            _ => None,
        }
    }

    /// A conversation ack over `from_peer` (the peer's messages it covers): `false`, changing
    /// nothing, when none waits for an ack (a recalled message waits for none, but the ack
    /// covers it like the rest); else each is acknowledged (at its first ack's time) and read.
    pub(super) fn ack_from_peer(
        &mut self,
        at_ms: u64,
        reader: &UserId,
        from_peer: Vec<MessageId>,
    ) -> bool {
        if from_peer
            .iter()
            .all(|id| self.read_acked.contains(id) || self.msgs[id].recalled)
        {
            return false;
        }
        for id in from_peer {
            if self.read_acked.insert(id) {
                self.read_acked_at.insert(id, at_ms);
            }
            self.read.insert((reader.clone(), id));
        }
        true
    }

    /// The single read ack of `message` in `c`: a direct chat's, or a group's.
    pub(super) fn single_ack(
        c: &ConversationId,
        message: MessageId,
        reader: &UserId,
    ) -> CommandKind {
        if c.is_group() {
            CommandKind::AckGroupMessageRead {
                message,
                reader: reader.clone(),
            }
        } else {
            CommandKind::AckMessageRead {
                message,
                reader: reader.clone(),
            }
        }
    }

    /// The messages of `c` up to and including `up_to`, after checking it is one of them.
    fn through(&self, c: &ConversationId, up_to: MessageId) -> Result<Vec<MessageId>, DomainError> {
        self.located(up_to, c)?;
        let ids = &self.order[c];
        let end = ids.iter().position(|id| *id == up_to).map_or(0, |i| i + 1);
        Ok(ids[..end].to_vec())
    }

    /// A participant's conversation-wide command: the pair of a direct chat, anyone who was ever
    /// a member of a group, in a conversation where something happened.
    pub(super) fn participant_checks(
        &self,
        c: &ConversationId,
        user: &UserId,
    ) -> Result<(), DomainError> {
        if let ConversationId::Direct { .. } = c {
            if c.peer_of(user).is_none() {
                return Err(DomainError::NotAParticipant { user: user.clone() });
            }
        }
        if !self.known(c) {
            return Err(DomainError::UnknownConversation(c.clone()));
        }
        if let ConversationId::Group(g) = c {
            if !self.ever_member.contains(&(g.clone(), user.clone())) {
                return Err(DomainError::NotAMember {
                    user: user.clone(),
                    group: g.clone(),
                });
            }
        }
        Ok(())
    }

    fn mark_up_to(&mut self, c: &ConversationId, reader: &UserId, up_to: MessageId) -> R {
        self.participant_checks(c, reader)?;
        let ids = self.through(c, up_to)?;
        let mine: Vec<MessageId> = ids
            .into_iter()
            .filter(|id| self.msgs[id].recipients.contains(reader))
            .collect();
        let unread = mine
            .iter()
            .any(|id| !self.msgs[id].recalled && !self.read.contains(&(reader.clone(), *id)));
        if !unread {
            return no_op();
        }
        for id in mine {
            self.read.insert((reader.clone(), id));
        }
        changed(vec![self.sync(c, reader)])
    }

    fn ack_up_to(
        &mut self,
        policy: &Policy,
        at_ms: u64,
        c: &ConversationId,
        reader: &UserId,
        up_to: MessageId,
    ) -> R {
        if c.is_group() {
            return Err(DomainError::ConversationAckDirectOnly);
        }
        if !policy.require_read_ack {
            return Err(DomainError::ReadAcksDisabled);
        }
        let Some(peer) = c.peer_of(reader).cloned() else {
            return Err(DomainError::NotAParticipant {
                user: reader.clone(),
            });
        };
        if !self.known(c) {
            return Err(DomainError::UnknownConversation(c.clone()));
        }
        let from_peer: Vec<MessageId> = self
            .through(c, up_to)?
            .into_iter()
            .filter(|id| self.msgs[id].sender == peer)
            .collect();
        if !self.ack_from_peer(at_ms, reader, from_peer) {
            return no_op();
        }
        changed(vec![
            Notification {
                to: peer,
                kind: NotificationKind::ConversationReadUpTo {
                    conversation: c.clone(),
                    by: reader.clone(),
                    up_to,
                },
            },
            self.sync(c, reader),
        ])
    }
}
