//! Shared checks of the engine's tests.

use receipt_engine::*;
use std::collections::{BTreeMap, BTreeSet};

/// Compares every answer the engine gives with a cold fold of `events` (the whole log): each
/// user's badge and conversation list with the whole-log fold's (first, so that on a freshly
/// opened engine they come from summaries and headers), then each conversation's partition
/// with a fold of that conversation's events. `Ok(Some(difference))` names the first
/// difference; `Err` is the engine failing to answer.
pub fn difference_from_cold_fold<B: store::Backend>(
    engine: &Engine<B>,
    events: &[Event],
) -> Result<Option<String>, EngineError> {
    let whole = State::from_events(events);
    let mut streams: BTreeMap<String, (ConversationId, Vec<Event>)> = BTreeMap::new();
    let mut users: BTreeSet<UserId> = BTreeSet::new();
    for e in events {
        let c = e.body.conversation();
        streams
            .entry(c.to_string())
            .or_insert_with(|| (c.clone(), Vec::new()))
            .1
            .push(e.clone());
        users.extend(e.body.summary_users().into_iter().cloned());
    }
    for u in &users {
        if engine.conversations(u)? != whole.conversations(u) {
            return Ok(Some(format!("conversation list of {u} differs")));
        }
        if engine.total_unread(u)? != whole.total_unread(u) {
            return Ok(Some(format!("badge of {u} differs")));
        }
    }
    for (name, (c, stream)) in &streams {
        let folded = State::from_events(stream);
        if !engine.with_partition(c, |p, _| *p == folded)? {
            return Ok(Some(format!(
                "partition {name} differs from a fold of its stream"
            )));
        }
    }
    Ok(None)
}

/// Panics unless every answer equals a cold fold's (see [`difference_from_cold_fold`]).
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn assert_equals_cold_fold<B: store::Backend>(
    engine: &Engine<B>,
    events: &[Event],
    what: &str,
) {
    match difference_from_cold_fold(engine, events) {
        Ok(None) => {}
        Ok(Some(difference)) => panic!("{what}: {difference}"),
        Err(e) => panic!("{what}: the engine could not answer: {e}"),
    }
}
