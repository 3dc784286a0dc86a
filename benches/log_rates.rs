//! Append and replay rates of the event log, per backend, durability option and batch size.
//! Prints a table of what it measured. `cargo bench --bench log_rates` (add `-- --quick` for a
//! seconds-long run). Machine-dependent: compare rows of one run, not runs across machines.

use receipt_engine::domain::*;
use receipt_engine::store::*;
use std::time::Instant;
use uuid::Uuid;

/// Events that look like a chat workload: messages in 1,000 direct chats, ids unique.
fn events(n: u64) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let a = UserId::new(format!("u{}", i % 1000)).expect("valid");
            let b = UserId::new(format!("v{}", i % 1000)).expect("valid");
            Event {
                id: EventId(Uuid::from_u128(u128::from(i) + 1)),
                at_ms: 1_700_000_000_000 + i,
                body: EventBody::MessageSent {
                    conversation: ConversationId::direct(a.clone(), b).expect("distinct"),
                    message: MessageId(Uuid::from_u128(u128::from(i) + (1 << 64))),
                    sender: a,
                    group_ack: GroupAck::NotRequested,
                },
            }
        })
        .collect()
}

/// Appends `events` in batches of `batch` events (each batch one atomic chunk, grouped by
/// stream); returns events per second.
fn append_rate<B: Backend>(log: &EventLog<B>, events: &[Event], batch: usize) -> f64 {
    let mut versions: std::collections::HashMap<ConversationId, u64> = Default::default();
    let start = Instant::now();
    for chunk in events.chunks(batch) {
        let requests: Vec<AppendRequest> = chunk
            .iter()
            .map(|e| {
                let c = e.body.conversation();
                let v = versions.entry(c.clone()).or_insert(0);
                *v += 1;
                AppendRequest {
                    conversation: c,
                    expected_version: *v - 1,
                    events: vec![e.clone()],
                }
            })
            .collect();
        log.append_batch(&requests).expect("append");
    }
    events.len() as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n: u64 = if quick { 20_000 } else { 200_000 };
    let all = events(n);
    println!("log rates, {n} MessageSent events over 1,000 direct chats (events/s)");
    println!(
        "{:<8} {:<12} {:>6} {:>12}",
        "backend", "durability", "batch", "append/s"
    );
    for (durability, name) in [
        (Durability::EveryAppend, "every"),
        (Durability::GroupCommit, "group"),
        (Durability::Buffered, "buffered"),
    ] {
        for batch in [1usize, 10, 100, 1000] {
            // Flushing every single-event append is slow on real disks: cap its sample.
            let sample = if batch == 1 && durability != Durability::Buffered {
                &all[..(n as usize / 20)]
            } else {
                &all[..]
            };
            let dir = tempfile::tempdir().expect("tempdir");
            let log = SledLog::open_dir(dir.path(), durability).expect("open");
            let rate = append_rate(&log, sample, batch);
            println!("{:<8} {:<12} {:>6} {:>12.0}", "sled", name, batch, rate);
        }
    }
    let mem = MemoryLog::in_memory();
    println!(
        "{:<8} {:<12} {:>6} {:>12.0}",
        "memory",
        "-",
        100,
        append_rate(&mem, &all, 100)
    );

    let dir = tempfile::tempdir().expect("tempdir");
    {
        let log = SledLog::open_dir(dir.path(), Durability::Buffered).expect("open");
        append_rate(&log, &all, 1000);
        log.flush().expect("flush");
    }
    let start = Instant::now();
    let log = SledLog::open_dir(dir.path(), Durability::Buffered).expect("reopen");
    let (end, state) = log.rebuild().expect("rebuild");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "cold open + rebuild of {end} events: {:.0} events/s ({:.3} s, {} messages)",
        end as f64 / secs,
        secs,
        state.message_count()
    );
    println!(
        "disk: {} bytes on disk for {end} events",
        log.backend().size_bytes()
    );
}
