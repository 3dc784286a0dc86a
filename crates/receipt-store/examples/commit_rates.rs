//! Commit cost of the sled log: appends single-event decisions from T threads with a given
//! durability and prints the rate and per-append latency percentiles. Run it under
//! `strace -f -c -e trace=fsync,fdatasync,sync_file_range` to count the sync calls.
//!
//! `cargo run --release -p receipt-store --example commit_rates -- DURABILITY THREADS APPENDS`
//! with DURABILITY one of `every`, `group`, `buffered`.

use receipt_domain::{ConversationId, Event, EventBody, EventId, GroupAck, MessageId, UserId};
use receipt_store::{AppendRequest, Durability, SledLog};
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let durability = match args.first().map(String::as_str) {
        Some("every") => Durability::EveryAppend,
        Some("group") => Durability::GroupCommit,
        Some("buffered") => Durability::Buffered,
        _ => {
            eprintln!("usage: commit_rates every|group|buffered THREADS APPENDS");
            std::process::exit(2);
        }
    };
    let threads: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let appends: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2_000);
    let dir = std::env::temp_dir().join(format!("commit-rates-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let log = Arc::new(SledLog::open_dir(&dir, durability).expect("open"));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                let a = UserId::new(format!("a{t}")).expect("id");
                let b = UserId::new(format!("b{t}")).expect("id");
                let chat = ConversationId::direct(a.clone(), b).expect("chat");
                let mut latencies_us = Vec::new();
                for i in 0..appends / threads {
                    let id = (u128::from(t) << 64) | u128::from(i) | (1 << 120);
                    let event = Event {
                        id: EventId(uuid::Uuid::from_u128(id)),
                        at_ms: 1_000 + i,
                        body: EventBody::MessageSent {
                            conversation: chat.clone(),
                            message: MessageId(uuid::Uuid::from_u128(id)),
                            sender: a.clone(),
                            group_ack: GroupAck::NotRequested,
                        },
                    };
                    let began = Instant::now();
                    log.append(AppendRequest {
                        conversation: chat.clone(),
                        expected_version: i,
                        events: vec![event],
                    })
                    .expect("append");
                    latencies_us.push(began.elapsed().as_secs_f64() * 1e6);
                }
                latencies_us
            })
        })
        .collect();
    let mut latencies: Vec<f64> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("thread"))
        .collect();
    let secs = start.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    println!(
        "{durability:?}, {threads} threads: {} appends in {secs:.2} s = {:.0}/s; latency p50 {:.0} us, p99 {:.0} us, p99.9 {:.0} us",
        latencies.len(),
        latencies.len() as f64 / secs,
        at(0.5),
        at(0.99),
        at(0.999)
    );
    drop(log);
    let _ = std::fs::remove_dir_all(&dir);
}
