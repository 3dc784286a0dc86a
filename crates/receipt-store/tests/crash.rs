//! kill -9 crash test: a child appends with flush-before-return and reports each acknowledged
//! position; the parent kills it at a random moment, reopens, and checks that no acknowledged
//! event is lost, positions are gapless, every chunk is whole, and the recovered projections
//! (snapshot + tail) equal a fold of the recovered events. `CRASH_CYCLES` sets the cycle count
//! (20 by default; run with 1000 for the long version).

mod support;

use receipt_domain::State;
use receipt_store::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn cycles() -> u64 {
    std::env::var("CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

#[test]
fn killed_appender_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = support::Rng(0x5EED);
    let mut acked_total = 0u64;
    for cycle in 0..cycles() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_receipt-store-crash-child"))
            .arg(dir.path())
            .arg((cycle + 1).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the crash child");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut last = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let end: u64 = line
                    .strip_prefix("ack ")
                    .and_then(|s| s.parse().ok())
                    .expect("ack line");
                if let Some(prev) = last {
                    assert!(end > prev, "acknowledged positions only grow");
                }
                last = Some(end);
                let _ = tx.send(end);
            }
            last
        });
        // Wait for the child to be appending, then kill it at a random moment.
        let first = rx.recv_timeout(Duration::from_secs(30));
        if first.is_err() {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "child never acknowledged: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(rng.below(40)));
        child.kill().expect("SIGKILL the child");
        child.wait().unwrap();
        let acked = reader.join().unwrap().unwrap_or(0);
        acked_total = acked_total.max(acked);

        let log =
            SledLog::open_dir(dir.path(), Durability::EveryAppend).expect("reopen after kill -9");
        let head = log.head();
        assert!(
            head >= acked,
            "cycle {cycle}: acknowledged up to {acked}, recovered only {head}"
        );
        let mut events = Vec::new();
        let mut next = 0;
        log.replay(0, |e| {
            assert_eq!(e.position, next, "gapless positions");
            next += 1;
            events.push(e.event);
        })
        .expect("every recovered chunk decodes whole");
        assert_eq!(next, head);
        let (end, recovered) = log.recover().unwrap();
        assert_eq!(end, head);
        assert_eq!(
            recovered,
            State::from_events(&events),
            "cycle {cycle}: snapshot + tail differs from a full fold"
        );
        recovered.check_invariants().unwrap();
    }
    eprintln!(
        "{} kill -9 cycles, {acked_total} events acknowledged and recovered",
        cycles()
    );
    assert!(acked_total > 0);
}
