//! Catch-up from the log: notifications of a range of positions, each computed on its
//! conversation's partition as it was right after the event.

use crate::error::EngineError;
use crate::publisher::Positioned;
use receipt_domain::{ConversationId, State};
use receipt_store::{Backend, EventLog, StoreError};
use rustc_hash::FxHashMap;

/// Events read from the log per step.
const STEP_EVENTS: usize = 4_096;

/// The notifications of the events at positions `[from, upto)`.
pub(super) fn notifications_between<B: Backend>(
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
