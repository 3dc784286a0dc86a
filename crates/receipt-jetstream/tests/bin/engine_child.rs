//! The child process of the Engine-on-JetStream fault tests (tests/engine_faults.rs). Not a
//! tool for users.
//!
//! Arguments: `URLS PREFIX OWNER LEASE_TTL_MS COMMANDS SEED`. Opens a `JetStreamEngine` owning
//! every partition of the log (waiting for a lease another process holds), then reads lines on
//! stdin: a number `n` runs the next `n` commands of the standard workload (`COMMANDS`,
//! `SEED`), `all` runs the rest. It prints `ready` once open, then per command its index and
//! what became of it: `ok I` (recorded), `noop I`, `rejected I`, or `stopped I KIND` (the
//! engine stopped; KIND is its cause's kind) after which it exits with status 3.
//!
//! An append whose answer was lost (a leader change, `Request`) stops the engine; the child
//! then does what a service does: reopens the engine (a replay) and sends the same command
//! again, with its id, so it is recorded once whether or not the first attempt was stored.

use receipt_engine::{EngineError, EngineOptions};
use receipt_jetstream::{JetStreamEngine, JetStreamLog, JetStreamOptions, Ownership};
use receipt_workload::{Workload, WorkloadConfig};
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [urls, prefix, owner, ttl_ms, commands, seed] = args.as_slice() else {
        eprintln!("usage: URLS PREFIX OWNER LEASE_TTL_MS COMMANDS SEED");
        std::process::exit(2);
    };
    let parse = |s: &str| s.parse::<u64>().unwrap_or_else(|_| std::process::exit(2));
    let config = WorkloadConfig::sized(parse(commands), parse(seed));
    let options = EngineOptions::default().with_policy(config.policy());
    let ownership = Ownership::all(owner.clone())
        .with_lease_ttl_ms(parse(ttl_ms))
        .with_wait_for_lease_ms(60_000);
    let log_options = JetStreamOptions::new(urls.clone()).with_prefix(prefix.clone());
    let open = || -> JetStreamEngine {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let attempt = JetStreamLog::open_existing(&log_options)
                .map(Arc::new)
                .and_then(|log| JetStreamEngine::open(log, &ownership, options.clone()));
            match attempt {
                Ok(engine) => return engine,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("opening: {e}");
                    std::thread::sleep(Duration::from_millis(300));
                }
                Err(e) => {
                    eprintln!("could not open: {e}");
                    std::process::exit(4);
                }
            }
        }
    };
    let mut engine = open();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ready");
    let _ = out.flush();
    let mut workload = Workload::new(config).enumerate();
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        let n = if line.trim() == "all" {
            usize::MAX
        } else {
            line.trim().parse().unwrap_or(0)
        };
        for (i, command) in workload.by_ref().take(n) {
            let answer = loop {
                match engine.execute_command(command.clone()) {
                    Err(EngineError::Stopped(cause)) if cause.kind() == "Request" => {
                        // The answer was lost: reopen (replay) and send the same command again.
                        eprintln!("command {i}: {cause}; reopening");
                        drop(engine);
                        engine = open();
                    }
                    answer => break answer,
                }
            };
            let said = match answer {
                Ok(o) if o.events.is_empty() => writeln!(out, "noop {i}"),
                Ok(_) => writeln!(out, "ok {i}"),
                Err(EngineError::Rejected(_)) => writeln!(out, "rejected {i}"),
                Err(EngineError::Stopped(cause)) => {
                    let _ = writeln!(out, "stopped {i} {}", cause.kind());
                    let _ = out.flush();
                    std::process::exit(3);
                }
                Err(e) => {
                    let _ = writeln!(out, "stopped {i} {}", e.kind());
                    let _ = out.flush();
                    std::process::exit(3);
                }
            };
            if said.is_err() || out.flush().is_err() {
                // The parent is gone: nothing to report to.
                std::process::exit(0);
            }
        }
    }
}
