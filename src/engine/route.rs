//! Which partition a command concerns, and its decision there.

use super::locks::{Reservation, Reserved};
use super::Engine;
use crate::error::EngineError;
use crate::projections::Projections;
use receipt_domain::{
    decide_in_store, Command, CommandKind, ConversationId, Decision, DomainError, EventBody,
    MessageId, Policy, State,
};
use receipt_store::{Backend, StoreError};
use rustc_hash::FxHashMap;

impl<B: Backend> Engine<B> {
    /// The conversation a command concerns: named by it, or the conversation of the message it
    /// names (from `pending`, messages sent earlier in the same batch, then the log's message
    /// index). `None` for a message nobody sent.
    pub(super) fn route(
        &self,
        kind: &CommandKind,
        pending: &FxHashMap<MessageId, ConversationId>,
    ) -> Result<Option<ConversationId>, StoreError> {
        if let Some(c) = kind.named_conversation() {
            return Ok(Some(c));
        }
        match kind.named_message() {
            Some(m) => self.message_route(m, pending),
            None => Ok(None),
        }
    }

    /// The conversation `message` was sent in: by an earlier command of the same batch
    /// (`pending`), else as the log's message index says (`None`: nobody sent it).
    fn message_route(
        &self,
        message: MessageId,
        pending: &FxHashMap<MessageId, ConversationId>,
    ) -> Result<Option<ConversationId>, StoreError> {
        match pending.get(&message) {
            Some(c) => Ok(Some(c.clone())),
            None => self.shared.log.message_conversation(message),
        }
    }

    /// Decides `command` against the partition of `route`, the conversation it concerns (an
    /// empty state when it concerns nothing known, so the domain gives its usual typed error).
    /// The caller holds `route`'s conversation lock.
    ///
    /// A message id is unique in the whole store, but a partition knows only its own messages:
    /// a send reserves its id first (see [`MessageReservations`]), and one reusing an id of
    /// another conversation is refused with the error `decide` gives when it sees the id (its
    /// first check). The reservation stays in `reserved` only if the send was accepted.
    ///
    /// [`MessageReservations`]: super::locks::MessageReservations
    pub(super) fn decide_in(
        &self,
        projections: &mut Projections,
        policy: &Policy,
        command: &Command,
        route: Option<&ConversationId>,
        pending: &FxHashMap<MessageId, ConversationId>,
        reserved: &mut Reserved<'_>,
    ) -> Result<Result<Decision, EngineError>, StoreError> {
        let mut sending = None;
        if let Some((message, conversation)) = command.kind.sent_message() {
            match self
                .shared
                .reservations
                .reserve(&self.shared.log, message, conversation)?
            {
                Reservation::InUse => return Ok(Err(DomainError::MessageIdInUse(message).into())),
                Reservation::Reserved => {
                    reserved.messages.push(message);
                    sending = Some(message);
                }
                Reservation::Here => {}
            }
        }
        // A message the partition does not know may be another conversation's: an ack naming
        // the wrong conversation is refused, not held for a message that will never come there.
        if let CommandKind::AckMessageReadIn {
            conversation,
            message,
            ..
        } = &command.kind
        {
            if let Some(c) = self.message_route(*message, pending)? {
                if &c != conversation {
                    return Ok(Err(DomainError::MessageNotInConversation {
                        message: *message,
                        conversation: conversation.clone(),
                    }
                    .into()));
                }
            }
        }
        // The store-wide count of held acks: a partition knows only its own.
        let held_total = projections.held.total();
        let decided = match route {
            Some(c) => decide_in_store(
                projections.partition(&self.shared.log, c, None)?,
                policy,
                command,
                held_total,
            ),
            None => decide_in_store(&State::new(), policy, command, held_total),
        };
        // A partition knows only its own messages: one the batch names that the domain finds
        // unknown may be another conversation's, which a whole-store fold reports as such.
        let decided = match (&command.kind, decided) {
            (
                CommandKind::AckMessagesRead { conversation, .. }
                | CommandKind::AckConversationReadUpTo { conversation, .. }
                | CommandKind::MarkConversationReadUpTo { conversation, .. },
                Err(DomainError::UnknownMessage(m)),
            ) => match self.message_route(m, pending)? {
                Some(c) if &c != conversation => Err(DomainError::MessageNotInConversation {
                    message: m,
                    conversation: conversation.clone(),
                }),
                _ => Err(DomainError::UnknownMessage(m)),
            },
            (_, decided) => decided,
        };
        if let Some(m) = sending {
            let sent = decided.as_ref().is_ok_and(|d| {
                d.events.iter().any(|e| {
                    matches!(&e.body, EventBody::MessageSent { message, .. }
                        | EventBody::ThreadReplySent { message, .. } if *message == m)
                })
            });
            if !sent {
                reserved.release(m);
            }
        }
        Ok(decided.map_err(Into::into))
    }
}
