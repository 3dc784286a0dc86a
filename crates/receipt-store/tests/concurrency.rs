//! Several threads append to their own and to a shared conversation at once: no lost update,
//! conflicts surface as typed errors, positions are unique and gapless.

mod support;

use receipt_domain::*;
use receipt_store::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use support::*;

const THREADS: u64 = 4;
const APPENDS: u64 = 100;

fn hammer<B: Backend + 'static>(log: Arc<EventLog<B>>) {
    let conflicts = Arc::new(AtomicU64::new(0));
    let shared = ConversationId::Group(group("shared"));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (log, conflicts, shared) = (log.clone(), conflicts.clone(), shared.clone());
            std::thread::spawn(move || {
                let own = chat("hub", &format!("t{t}"));
                for i in 0..APPENDS {
                    let c = if i % 2 == 0 { &own } else { &shared };
                    let id = ((t as u128) << 32) | i as u128;
                    loop {
                        // Read the version, then append against it: a racing writer makes this stale.
                        let v = log.version(c).unwrap();
                        match log.append(request(c, v, &[id])) {
                            Ok(a) => {
                                assert_eq!(a.version, v + 1);
                                break;
                            }
                            Err(StoreError::Conflict { .. }) => {
                                conflicts.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => panic!("unexpected {e}"),
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let all = log.read_from(0, usize::MAX).unwrap();
    assert_eq!(all.len() as u64, THREADS * APPENDS, "no lost update");
    assert!(
        all.iter().enumerate().all(|(i, e)| e.position == i as u64),
        "gapless, unique"
    );
    assert_eq!(log.version(&shared).unwrap(), THREADS * APPENDS / 2);
    let versions: Vec<u64> = log
        .read_stream(&shared, 1, usize::MAX)
        .unwrap()
        .iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(versions, (1..=THREADS * APPENDS / 2).collect::<Vec<_>>());
    let mut ids: Vec<EventId> = all.iter().map(|e| e.event.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len() as u64,
        THREADS * APPENDS,
        "every event stored once"
    );
    eprintln!(
        "conflicts surfaced and retried: {}",
        conflicts.load(Ordering::Relaxed)
    );
}

#[test]
fn concurrent_appends_on_sled_with_group_commit() {
    let dir = tempfile::tempdir().unwrap();
    hammer(Arc::new(
        SledLog::open_dir(dir.path(), Durability::GroupCommit).unwrap(),
    ));
}

#[test]
fn concurrent_appends_in_memory() {
    hammer(Arc::new(MemoryLog::in_memory()));
}

fn flushes_for(durability: Durability) -> u64 {
    // Every flush slow, like a real disk's sync.
    let faults = Arc::new(Faults::default());
    faults.flush_delay_ms.store(2, Ordering::SeqCst);
    let log = Arc::new(EventLog::open(FaultyBackend::new(faults.clone()), durability).unwrap());
    // Opening a new store flushes once (before creating its ledger): count the appends' only.
    let at_open = faults.flushes.load(Ordering::SeqCst);
    let handles: Vec<_> = (0..8u128)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                let c = chat("hub", &format!("t{t}"));
                for i in 0..25u128 {
                    log.append(request(&c, i as u64, &[(t << 32) | i])).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(log.head(), 200);
    faults.flushes.load(Ordering::SeqCst) - at_open
}

#[test]
fn group_commit_shares_flushes_between_concurrent_appenders() {
    assert_eq!(
        flushes_for(Durability::EveryAppend),
        200,
        "one flush per append"
    );
    let shared = flushes_for(Durability::GroupCommit);
    // 8 appenders wait on each flush: far fewer flushes than appends (never more).
    assert!(
        shared <= 100,
        "group commit flushed {shared} times for 200 appends"
    );
    eprintln!("group commit: {shared} flushes for 200 appends from 8 threads");
}

/// Appends from `threads` threads on sled; for every append, a flush that began after its write
/// must have completed (data fdatasync'd, ledger written) before the append is acknowledged.
fn every_ack_follows_a_covering_sync(durability: Durability, threads: u128) {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(SledLog::open_dir(dir.path(), durability).unwrap());
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                let c = chat("hub", &format!("t{t}"));
                for i in 0..30u128 {
                    let written = log
                        .write_batch(&[request(&c, i as u64, &[(t << 32) | i])])
                        .unwrap();
                    let end = written.outcomes[0].first_position + 1;
                    log.wait_durable(&written).unwrap();
                    assert!(
                        log.syncs().newest_completed_flush > written.flushes_begun(),
                        "acknowledged before any flush that began after the write completed"
                    );
                    assert!(
                        log.durable_head() >= end,
                        "the ledger does not cover position {end}"
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let syncs = log.syncs();
    let appends = (threads * 30) as u64;
    eprintln!("{durability:?}, {threads} threads: {appends} appends, {syncs:?}");
    assert!(syncs.data_syncs >= 1 && syncs.ledger_syncs >= 1);
    drop(log);
    // The ledger written by those commits covers every acknowledged event after a reopen.
    let reopened = SledLog::open_dir(dir.path(), durability).unwrap();
    assert_eq!(reopened.durable_head(), appends);
}

#[test]
fn no_durable_append_is_acknowledged_before_a_sync_that_covers_it() {
    every_ack_follows_a_covering_sync(Durability::EveryAppend, 1);
    every_ack_follows_a_covering_sync(Durability::EveryAppend, 4);
    every_ack_follows_a_covering_sync(Durability::GroupCommit, 8);
}
