//! Writes the golden fixture of the current storage format (run once per format, when it is
//! introduced): a small sled log with a snapshot in the middle and a recorded no-op command, its
//! raw records exported, and the expected answers of the queries. Fixtures are never rewritten;
//! `tests/golden.rs` must keep reading every one of them.
//!
//! `cargo run -p receipt-store --example write_golden_fixture -- crates/receipt-store/tests/fixtures/v2`
//! (v1 was written by this program before the ledger and the event-id index existed, so without
//! the no-op record.)

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
    let mut w = support::Workload::new(42);
    for i in 0..200 {
        let r = w.next_request(&log);
        log.append(r.clone())?;
        w.apply(&r);
        if i == 120 {
            log.save_snapshot(log.head(), &w.state)?;
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
    std::fs::write(
        out.join("expected.txt"),
        support::describe::describe(&w.state, &w.policy, 40),
    )?;
    println!("wrote {} events to {}", log.head(), out.display());
    Ok(())
}
