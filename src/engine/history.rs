//! Catch-up and time travel from the log: notifications of a range of positions, each computed
//! on its conversation's partition as it was right after the event; the projections at a past
//! position.

use super::Engine;
use crate::error::EngineError;
use crate::publisher::Positioned;
use receipt_domain::{ConversationId, State};
use receipt_store::{Backend, EventLog, StoreError};
use rustc_hash::FxHashMap;

impl<B: Backend> Engine<B> {
    /// Notifications of the durable events at positions `from..` (up to what has been published),
    /// recomputed from the log. A consumer that restarts resumes with the position after the
    /// last one it handled; to then follow live, subscribe first and skip positions already
    /// seen. Costs the events read plus, for each conversation they touch, its checkpoint and
    /// its stream up to the first of them.
    pub fn notifications_since(&self, from: u64) -> Result<Vec<Positioned>, EngineError> {
        let upto = self.publisher.published_upto();
        notifications_between(&self.shared.log, from.min(upto), upto)
    }

    /// Time travel: the projections of every conversation as they were when the log held
    /// `position` events, folded from the start of the log (O(position)).
    ///
    /// ```
    /// # use receipt_engine::*;
    /// let engine = Engine::in_memory(EngineOptions::default())?;
    /// let (ann, bob) = (UserId::new("ann")?, UserId::new("bob")?);
    /// let chat = ConversationId::direct(ann.clone(), bob.clone())?;
    /// engine.send_message(&chat, MessageId(uuid::Uuid::now_v7()), &ann)?;
    /// engine.mark_conversation_read(&chat, &bob)?;
    /// assert_eq!(engine.unread_count(&bob, &chat)?, 0);
    /// // As it was after the first event (the message, unread):
    /// assert_eq!(engine.state_at(1)?.unread_count(&bob, &chat), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn state_at(&self, position: u64) -> Result<State, EngineError> {
        let mut state = State::new();
        self.shared
            .log
            .replay_range(0, position.min(self.shared.log.head()), |e| {
                state.apply(&e.event)
            })?;
        Ok(state)
    }
}

/// Events read from the log per step.
const STEP_EVENTS: usize = 4_096;

/// The notifications of the events at positions `[from, upto)`.
fn notifications_between<B: Backend>(
    log: &EventLog<B>,
    from: u64,
    upto: u64,
) -> Result<Vec<Positioned>, EngineError> {
    // Scratch partitions, apart from the engine's cache: they are as of the events read here.
    let mut parts: FxHashMap<ConversationId, State> = FxHashMap::default();
    let mut out = Vec::new();
    let mut at = from;
    while at < upto {
        let max = usize::try_from(upto - at)
            .unwrap_or(usize::MAX)
            .min(STEP_EVENTS);
        let step = log.read_from(at, max)?;
        if step.is_empty() {
            break;
        }
        for e in step {
            let conversation = e.event.body.conversation();
            let state = match parts.entry(conversation) {
                std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    let (_, version) = log.event_location(e.event.id)?.ok_or_else(|| {
                        StoreError::corrupt(e.position, "event missing from the event index")
                    })?;
                    let before = partition_before(log, v.key(), version)?;
                    v.insert(before)
                }
            };
            state.apply(&e.event);
            out.extend(
                state
                    .notifications_for(&e.event)
                    .into_iter()
                    .map(|notification| Positioned {
                        position: e.position,
                        notification,
                    }),
            );
            at = e.position + 1;
        }
    }
    Ok(out)
}

/// A conversation's partition after its first `version - 1` events: its checkpoint if that is
/// not past them (an unusable one is ignored), then its stream.
fn partition_before<B: Backend>(
    log: &EventLog<B>,
    conversation: &ConversationId,
    version: u64,
) -> Result<State, StoreError> {
    let mut state = match log.load_partition(conversation)? {
        Some(Ok(s)) if s.events_applied() < version => s,
        _ => State::new(),
    };
    let wanted = version - 1 - state.events_applied();
    if wanted > 0 {
        let max = usize::try_from(wanted).unwrap_or(usize::MAX);
        for e in log.read_stream(conversation, state.events_applied() + 1, max)? {
            state.apply(&e.event);
        }
    }
    Ok(state)
}
