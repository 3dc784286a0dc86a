//! Engine crash-test child: opens the Engine in the given directory with the default options
//! (group commit), frequent checkpoints, a tiny memory budget and all receipts on, then runs commands from 4 threads
//! until killed, printing `ack POSITION ID DIGEST` for every event of a command once the command
//! returned. Each thread works in its own direct chats, so nothing it decides can be refused;
//! any error stops the child with a non-zero status, which fails the parent's cycle.

use receipt_engine::*;
use std::io::Write;
use std::sync::Arc;

fn ack_line(position: u64, event: &Event) -> String {
    // The format `receipt_workload::crash` parses; kept here because a binary cannot use the
    // package's dev-dependencies.
    let digest = crc32fast::hash(format!("{event:?}").as_bytes());
    format!("ack {position} {} {digest:08x}", event.id)
}

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("{what}: {e}");
    std::process::exit(5);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(seed)) = (args.next(), args.next().and_then(|s| s.parse::<u64>().ok()))
    else {
        eprintln!("usage: receipt-engine-crash-child DIR SEED");
        std::process::exit(2);
    };
    let options = EngineOptions::default()
        .with_policy(Policy::all_receipts_on())
        // Checkpoints and evictions (each writing a partition's checkpoint) all the time, so
        // kills land in the middle of them.
        .with_checkpoint_every(Some(500))
        .with_memory_budget(16 << 10);
    let engine = match Engine::open(&dir, options) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("open failed: {e}");
            std::process::exit(3);
        }
    };
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let me = UserId::new(format!("c{seed}t{t}")).unwrap_or_else(|e| fail("id", e));
                let out = std::io::stdout();
                for i in 0u64.. {
                    let peer =
                        UserId::new(format!("peer{}", i % 7)).unwrap_or_else(|e| fail("id", e));
                    let chat = ConversationId::direct(me.clone(), peer.clone())
                        .unwrap_or_else(|e| fail("chat", e));
                    let message = MessageId(uuid::Uuid::now_v7());
                    let outcomes = [
                        engine.send_message(&chat, message, &me),
                        engine.deliver(message, &peer),
                        engine.ack_message_read(message, &peer),
                    ];
                    let mut lines = String::new();
                    for outcome in outcomes {
                        let outcome = outcome.unwrap_or_else(|e| fail("command failed", e));
                        let Some(first) = outcome.first_position else {
                            continue;
                        };
                        for (k, event) in outcome.events.iter().enumerate() {
                            lines.push_str(&ack_line(first + k as u64, event));
                            lines.push('\n');
                        }
                    }
                    let mut lock = out.lock();
                    let _ = lock.write_all(lines.as_bytes());
                    let _ = lock.flush();
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    // The threads only end by failing (which exits) or by the kill.
    std::process::exit(6);
}
