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
        // The engine's badge follows its policy on thread replies; the fold's leaves them out.
        let badge = whole.badge(u).under(&engine.policy());
        if engine.badge(u)? != badge || engine.total_unread(u)? != badge.unread {
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
    let held = domain::HeldEarlyAcks::of(&whole).total();
    if engine.early_acks_held() != held {
        return Ok(Some(format!(
            "the engine counts {} held read acks, the log {held}",
            engine.early_acks_held()
        )));
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

/// Runs every command of the workload through `execute_command` (a rejection is an answer, any
/// other error fails the test), flushes, and returns the whole log's events.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn run_workload<B: store::Backend>(
    engine: &Engine<B>,
    config: receipt_workload::WorkloadConfig,
) -> Vec<Event> {
    for command in receipt_workload::Workload::new(config) {
        match engine.execute_command(command) {
            Ok(_) | Err(EngineError::Rejected(_)) => {}
            Err(e) => panic!("building the store: {e}"),
        }
    }
    engine.flush().unwrap();
    let mut events = Vec::new();
    engine.log().replay(0, |e| events.push(e.event)).unwrap();
    events
}

/// Copies a directory tree (a store, a fixture).
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
