//! In process, on the standard workload: the fold's rate (events already decoded, as replay
//! hands them over) and the heap bytes the state keeps per event kind, counted by the
//! allocator the benchmark binary installs.

use crate::plan::Plan;
use crate::run::Counting;
use receipt_domain::State;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;

/// Heap bytes the state kept for one kind of event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KindCost {
    pub kind: String,
    pub events: u64,
    pub bytes_per_event: f64,
}

/// The engine's core, measured in the benchmark process.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Core {
    pub events: u64,
    pub messages: u64,
    /// Median of three folds of every event into a new state.
    pub fold_events_per_s: f64,
    pub per_kind: Vec<KindCost>,
    pub state_bytes: u64,
}

fn live(alloc: &Counting) -> i128 {
    let s = alloc.stats();
    s.bytes_allocated as i128 - s.bytes_deallocated as i128 + s.bytes_reallocated as i128
}

/// Events per second folding the plan's events into a new state (median of `runs`).
pub fn fold_rate(plan: &Plan, runs: usize) -> f64 {
    let events: Vec<&receipt_domain::Event> = plan.all_events().collect();
    let mut rates: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let start = Instant::now();
            let state = State::from_events(events.iter().copied());
            let rate = events.len() as f64 / start.elapsed().as_secs_f64();
            std::hint::black_box(state);
            rate
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// The fold rate and the state's heap bytes per event kind.
pub fn measure(alloc: &'static Counting, plan: &Plan) -> Core {
    let mut per_kind: BTreeMap<&'static str, (u64, i128)> = BTreeMap::new();
    let before = live(alloc);
    let mut state = State::new();
    for e in plan.all_events() {
        let at = live(alloc);
        state.apply(e);
        let entry = per_kind.entry(e.body.kind_name()).or_default();
        entry.0 += 1;
        entry.1 += live(alloc) - at;
    }
    let state_bytes = (live(alloc) - before).max(0) as u64;
    Core {
        events: plan.events,
        messages: state.message_count() as u64,
        fold_events_per_s: fold_rate(plan, 3),
        per_kind: per_kind
            .into_iter()
            .map(|(kind, (events, bytes))| KindCost {
                kind: kind.to_string(),
                events,
                bytes_per_event: bytes as f64 / events.max(1) as f64,
            })
            .collect(),
        state_bytes,
    }
}
