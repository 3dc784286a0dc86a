//! kill -9 crash test of the log: a child appends with flush-before-return and acknowledges
//! each event; the parent kills it at a random moment (it must die of SIGKILL, not exit on its
//! own), reopens, and checks every acknowledged event by position, id and content, that
//! positions are gapless, that every chunk decodes whole, and that the recovered projections
//! (snapshot + tail) equal a fold of the recovered events. `CRASH_CYCLES` sets the cycle count
//! (20 by default). Deliberately faulty children prove the checks can fail.

mod support;

use receipt_domain::{Event, State};
use receipt_store::*;
use receipt_workload::crash::{check_acked, run_and_kill};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn cycles() -> u64 {
    std::env::var("CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

fn child(dir: &Path, seed: u64, fault: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_receipt-store-crash-child"));
    c.arg(dir).arg(seed.to_string());
    c.env("CRASH_CHILD_FAULT", fault);
    c
}

/// One kill -9 cycle; returns how many events the child acknowledged.
fn cycle(dir: &Path, seed: u64, run_for: Duration, fault: &str) -> Result<usize, String> {
    let acked = run_and_kill(child(dir, seed, fault), run_for)?;
    let log = SledLog::open_dir(dir, Durability::EveryAppend)
        .map_err(|e| format!("reopen after kill -9: {e}"))?;
    // `replay` fails on a gap, an undecodable chunk or a log short of its head, so the events
    // collected here are exactly positions 0..head, in order.
    let mut events: Vec<Event> = Vec::new();
    log.replay(0, |e| events.push(e.event))
        .map_err(|e| format!("a recovered chunk does not decode: {e}"))?;
    check_acked(&acked, |p| events.get(p as usize).cloned())?;
    let (_, recovered) = log.recover().map_err(|e| e.to_string())?;
    if recovered != State::from_events(&events) {
        return Err("snapshot + tail differs from a full fold".into());
    }
    recovered.check_invariants().map_err(|e| e.to_string())?;
    Ok(acked.len())
}

#[test]
fn killed_appender_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = support::Rng(0x5EED);
    let mut acked_total = 0;
    for n in 0..cycles() {
        let run_for = Duration::from_millis(rng.below(40));
        match cycle(dir.path(), n + 1, run_for, "") {
            Ok(acked) => acked_total += acked,
            Err(e) => panic!("cycle {n}: {e}"),
        }
    }
    eprintln!(
        "{} kill -9 cycles: {acked_total} acknowledged events, each found by position, id and content",
        cycles()
    );
}

#[test]
fn a_child_that_exits_by_itself_fails_the_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let err = cycle(dir.path(), 1, Duration::from_millis(300), "exit").unwrap_err();
    assert!(err.contains("not killed by SIGKILL"), "{err}");
}

#[test]
fn an_acknowledged_event_that_is_not_stored_fails_the_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let err = cycle(dir.path(), 1, Duration::from_millis(300), "lie").unwrap_err();
    assert!(err.contains("acknowledged"), "{err}");
}
