//! Folds the standard workload in memory into per-conversation partitions, as a rebuild does
//! after decoding, and prints the rate: the loop to run under `perf record` or
//! `valgrind --tool=callgrind` when profiling the fold.
//!
//! `cargo run --release -p receipt-bench --example fold_profile -- [EVENTS] [SEED]`
//! (default 1,000,000 events, seed 42).

use receipt_bench::plan::Plan;
use receipt_engine::{ConversationId, Event, State};
use receipt_workload::WorkloadConfig;
use rustc_hash::FxHashMap;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let events: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(42);
    let plan = Plan::decide(
        &WorkloadConfig::sized(events + events / 2, seed),
        Some(events),
    );
    let all: Vec<&Event> = plan.all_events().collect();
    // Five folds, so that under a profiler the fold outweighs deciding the workload.
    for _ in 0..5 {
        let start = Instant::now();
        let mut parts: FxHashMap<ConversationId, State> = FxHashMap::default();
        for e in &all {
            parts.entry(e.body.conversation()).or_default().apply(e);
        }
        let s = start.elapsed().as_secs_f64();
        println!(
            "{} events into {} partitions: {:.3} s, {:.2} M events/s",
            all.len(),
            parts.len(),
            s,
            all.len() as f64 / s / 1e6
        );
        std::hint::black_box(parts);
    }
}
