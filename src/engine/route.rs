//! Which partition a command concerns, and its decision there.

use super::Engine;
use crate::error::EngineError;
use crate::projections::Projections;
use receipt_domain::{
    decide, Command, CommandKind, ConversationId, Decision, DomainError, MessageId, Policy, State,
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
            Some(m) => match pending.get(&m) {
                Some(c) => Ok(Some(c.clone())),
                None => self.shared.log.message_conversation(m),
            },
            None => Ok(None),
        }
    }

    /// Decides `command` against the partition it concerns (an empty state when it concerns
    /// nothing known, so the domain gives its usual typed error).
    pub(super) fn decide_in(
        &self,
        projections: &mut Projections,
        policy: &Policy,
        command: &Command,
        pending: &FxHashMap<MessageId, ConversationId>,
    ) -> Result<Result<Decision, EngineError>, StoreError> {
        // A message id is unique in the whole store, but a partition knows only its own
        // messages: a send reusing an id from another conversation is refused here, with the
        // error `decide` gives when it sees the id (its first check).
        if let CommandKind::SendMessage {
            conversation,
            message,
            ..
        } = &command.kind
        {
            let sent_in = match pending.get(message) {
                Some(c) => Some(c.clone()),
                None => self.shared.log.message_conversation(*message)?,
            };
            if sent_in.is_some_and(|c| &c != conversation) {
                return Ok(Err(DomainError::MessageIdInUse(*message).into()));
            }
        }
        let decided = match self.route(&command.kind, pending)? {
            Some(c) => decide(
                projections.partition(&self.shared.log, &c, None)?,
                policy,
                command,
            ),
            None => decide(&State::new(), policy, command),
        };
        Ok(decided.map_err(Into::into))
    }
}
