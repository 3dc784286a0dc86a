//! Crash-test child: opens the sled log in the given directory, recovers, then appends batches of
//! decided events forever with flush-before-return, printing `ack POSITION ID DIGEST` for each
//! event once its append returned, and saving a snapshot now and then. The parent kills it with
//! SIGKILL.
//!
//! `CRASH_CHILD_FAULT` makes it misbehave, to prove the parent notices: `exit` stops after three
//! appends with exit status 5; `lie` acknowledges an event id that was never appended.

#[path = "../support/mod.rs"]
mod support;

use receipt_store::*;
use std::collections::HashMap;
use std::io::Write;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(seed)) = (args.next(), args.next().and_then(|s| s.parse::<u64>().ok()))
    else {
        eprintln!("usage: receipt-store-crash-child DIR SEED");
        std::process::exit(2);
    };
    let fault = std::env::var("CRASH_CHILD_FAULT").unwrap_or_default();
    let log = match SledLog::open_dir(std::path::Path::new(&dir), Durability::EveryAppend) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("open failed: {e}");
            std::process::exit(3);
        }
    };
    let mut w = support::Workload::new(seed);
    w.state = match log.recover() {
        Ok((_, state)) => state,
        Err(e) => {
            eprintln!("recover failed: {e}");
            std::process::exit(4);
        }
    };
    let mut rng = support::Rng(seed.wrapping_mul(31) | 1);
    let stdout = std::io::stdout();
    for batch_no in 0u64.. {
        if fault == "exit" && batch_no == 3 {
            eprintln!("append failed: (deliberate fault)");
            std::process::exit(5);
        }
        // A batch of 1-4 decisions, versions planned across the batch, as one atomic chunk.
        let mut planned: HashMap<receipt_domain::ConversationId, u64> = HashMap::new();
        let mut batch = Vec::new();
        for _ in 0..=rng.below(4) {
            let mut r = w.next_request(&log);
            if let Some(v) = planned.get(&r.conversation) {
                r.expected_version = *v;
            }
            planned.insert(
                r.conversation.clone(),
                r.expected_version + r.events.len() as u64,
            );
            w.apply(&r);
            batch.push(r);
        }
        let out = match log.append_batch(&batch) {
            Ok(out) => out,
            Err(e) => {
                eprintln!("append failed: {e}");
                std::process::exit(5);
            }
        };
        let mut lock = stdout.lock();
        for (request, appended) in batch.iter().zip(&out) {
            for (i, event) in request.events.iter().enumerate() {
                let mut event = event.clone();
                if fault == "lie" && batch_no == 2 {
                    event.id = receipt_domain::EventId(uuid::Uuid::from_u128(u128::MAX));
                }
                let _ = writeln!(
                    lock,
                    "{}",
                    support::ack_line(appended.first_position + i as u64, &event)
                );
            }
        }
        let _ = lock.flush();
        drop(lock);
        if batch_no % 40 == 39 {
            if let Err(e) = log.save_snapshot(log.head(), &w.state) {
                eprintln!("snapshot failed: {e}");
                std::process::exit(6);
            }
        }
    }
}
