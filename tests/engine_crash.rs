//! kill -9 crash test of the Engine: a child runs commands from 4 threads with the default
//! durability (group commit), a checkpoint every 500 events and a memory budget so small that
//! partitions are evicted (and their checkpoints written) all the time; the parent kills it at a random moment,
//! requires that it died of SIGKILL, reopens the Engine, and checks every acknowledged command's
//! events by position, id and content, and that every recovered partition, badge and
//! conversation list equals a cold fold of the whole log. `CRASH_CYCLES` sets the cycle count (20 by default).

mod support;

use receipt_engine::*;
use receipt_workload::crash::{check_acked, run_and_kill};
use std::process::Command;
use std::time::Duration;

fn cycles() -> u64 {
    std::env::var("CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

#[test]
fn killed_engine_loses_no_acknowledged_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut acked_total = 0;
    for n in 0..cycles() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_receipt-engine-crash-child"));
        child.arg(dir.path()).arg(n.to_string());
        let run_for = Duration::from_millis(5 + (n * 37) % 60);
        let acked = run_and_kill(child, run_for).unwrap_or_else(|e| panic!("cycle {n}: {e}"));
        let engine = Engine::open(
            dir.path(),
            EngineOptions::default().with_policy(Policy::all_receipts_on()),
        )
        .unwrap_or_else(|e| panic!("cycle {n}: reopen after kill -9: {e}"));
        let mut events = Vec::new();
        engine
            .log()
            .replay(0, |e| events.push(e.event))
            .unwrap_or_else(|e| panic!("cycle {n}: {e}"));
        check_acked(&acked, |p| events.get(p as usize).cloned())
            .unwrap_or_else(|e| panic!("cycle {n}: {e}"));
        support::assert_equals_cold_fold(&engine, &events, &format!("cycle {n}"));
        acked_total += acked.len();
    }
    eprintln!(
        "{} kill -9 cycles of a 4-thread Engine: {acked_total} acknowledged events, each found by position, id and content",
        cycles()
    );
}
