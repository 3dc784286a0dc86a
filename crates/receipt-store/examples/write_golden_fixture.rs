//! Writes the golden fixture of the current storage format (run once per format, when it is
//! introduced): a small sled log with a checkpoint 50 events before its end (per-conversation
//! partitions, headers, summaries and the marker, as an engine writes them) and a recorded
//! no-op command, its raw records and checkpoint entries exported, and the expected answers of
//! the queries. Fixtures are never rewritten; `tests/golden.rs` must keep reading every one.
//!
//! `cargo run -p receipt-store --example write_golden_fixture -- crates/receipt-store/tests/fixtures/v12`
//! (v1 was written by this program before the ledger and the event-id index existed, so without
//! the no-op record; v1 and v2 hold a whole-state snapshot instead of a checkpoint; v3 holds
//! checkpoint layout 1, v4 layout 2, v5 layout 3 and `MessageRecalled` events, v6 layout 4 and
//! `UsersMentioned` and `NotificationModeChanged` events, v7 the same layout and
//! `ConversationAckedUpTo` and `ConversationMarkedReadUpTo` events, v8 layout 5 and
//! `ReadAckBuffered` and `EarlyAckDropped` events, v9 layout 6, whose marker counts the read
//! acks held for messages not sent yet, v10 layout 7 and `ThreadReplySent`,
//! `ThreadFollowChanged` and `ThreadRead` events, v11 ledger format 2, v12 checkpoint layout 8
//! (entries bound to their key and generation, rosters).)

#[path = "../tests/support/mod.rs"]
mod support;

use receipt_store::*;
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: write_golden_fixture OUT_DIR")?,
    );
    let sled_dir = out.join("sled");
    if sled_dir.exists() {
        return Err(format!(
            "{} exists: the golden fixture is written once, never regenerated",
            sled_dir.display()
        )
        .into());
    }
    std::fs::create_dir_all(&out)?;
    let log = SledLog::open_dir(&sled_dir, Durability::EveryAppend)?;
    // Since v5 the workload recalls messages too, since v6 it mentions users and sets
    // notification modes, since v7 it reads and acknowledges up to a position, since v8 it
    // acknowledges messages before they come, since v10 it replies in threads, so the fixture
    // holds every event kind.
    let mut w = support::Workload::with_threads(42);
    for i in 0..200 {
        let r = w.next_request(&log);
        log.append(r.clone())?;
        w.apply(&r);
        if i == 149 {
            log.write_checkpoint(&checkpoint_of(&log)?)?;
        }
    }
    // Layout 2 records commands accepted as no-ops, so a retry of one stays a no-op.
    let noop = log.record_noop(receipt_domain::CommandId(uuid::Uuid::from_u128(7)))?;
    log.wait_durable(&noop)?;
    log.flush()?;
    // The raw keyspace, as length-prefixed (u32 LE) key/value pairs.
    let mut records = Vec::new();
    for entry in log.backend().range(b"", &[0xFF]) {
        let (k, v) = entry?;
        records.write_all(&(k.len() as u32).to_le_bytes())?;
        records.write_all(&k)?;
        records.write_all(&(v.len() as u32).to_le_bytes())?;
        records.write_all(&v)?;
    }
    std::fs::write(out.join("records.bin"), records)?;
    let mut checkpoints = Vec::new();
    for entry in log.backend().checkpoint_range(b"", &[0xFF]) {
        let (k, v) = entry?;
        checkpoints.write_all(&(k.len() as u32).to_le_bytes())?;
        checkpoints.write_all(&k)?;
        checkpoints.write_all(&(v.len() as u32).to_le_bytes())?;
        checkpoints.write_all(&v)?;
    }
    std::fs::write(out.join("checkpoints.bin"), checkpoints)?;
    std::fs::write(
        out.join("expected.txt"),
        support::describe::describe(&w.state, &w.policy, 40),
    )?;
    println!("wrote {} events to {}", log.head(), out.display());
    Ok(())
}

/// Everything an engine's checkpoint at the log's head holds: each conversation's partition
/// (a fold of its stream), header and reader summaries, and the marker.
fn checkpoint_of<B: Backend>(log: &EventLog<B>) -> Result<CheckpointWrite, StoreError> {
    let mut parts: std::collections::BTreeMap<
        String,
        (receipt_domain::ConversationId, receipt_domain::State),
    > = std::collections::BTreeMap::new();
    log.replay(0, |e| {
        let c = e.event.body.conversation();
        parts
            .entry(c.to_string())
            .or_insert_with(|| (c, receipt_domain::State::new()))
            .1
            .apply(&e.event);
    })?;
    let mut w = CheckpointWrite {
        marker: Some(log.head()),
        ..CheckpointWrite::default()
    };
    for (c, state) in parts.into_values() {
        w.held_early_acks.set(&c, state.early_acks_held_in(&c));
        if let Some(h) = state.header(&c) {
            w.headers.push((c.clone(), h, state.events_applied()));
        }
        for (u, s) in state.reader_summaries(&c) {
            w.summaries.push((u, c.clone(), s));
        }
        w.partitions.push((c, std::sync::Arc::new(state)));
    }
    Ok(w)
}
