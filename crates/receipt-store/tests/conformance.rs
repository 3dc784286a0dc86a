//! One conformance suite, run against the in-memory log and the sled log.

mod support;

use receipt_domain::*;
use receipt_store::*;
use support::*;

/// Runs each check against a fresh log of both kinds.
macro_rules! conformance {
    ($($name:ident => $body:expr;)*) => {
        mod memory {
            use super::*;
            $(#[test] fn $name() { let log = MemoryLog::in_memory(); ($body)(&log); })*
        }
        mod sled {
            use super::*;
            $(#[test] fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let log = SledLog::open_dir(dir.path(), Durability::EveryAppend).unwrap();
                ($body)(&log);
            })*
        }
    };
}

fn positions<B: Backend>(log: &EventLog<B>) -> Vec<u64> {
    log.read_from(0, usize::MAX)
        .unwrap()
        .iter()
        .map(|e| e.position)
        .collect()
}

fn ids<B: Backend>(log: &EventLog<B>) -> Vec<EventId> {
    log.read_from(0, usize::MAX)
        .unwrap()
        .iter()
        .map(|e| e.event.id)
        .collect()
}

fn appends_get_gapless_positions_and_stream_versions<B: Backend>(log: &EventLog<B>) {
    let (a, b) = (chat("ann", "bob"), chat("ann", "cat"));
    let r1 = log.append(request(&a, 0, &[1, 2])).unwrap();
    let r2 = log.append(request(&b, 0, &[3])).unwrap();
    let r3 = log.append(request(&a, 2, &[4])).unwrap();
    assert_eq!((r1.first_position, r1.count, r1.version), (0, 2, 2));
    assert_eq!((r2.first_position, r2.version), (2, 1));
    assert_eq!((r3.first_position, r3.version), (3, 3));
    assert_eq!(positions(log), vec![0, 1, 2, 3]);
    assert_eq!(log.head(), 4);
    assert_eq!(log.version(&a).unwrap(), 3);
    assert_eq!(log.version(&chat("x", "y")).unwrap(), 0);
    let stream: Vec<(u64, u64)> = log
        .read_stream(&a, 1, 10)
        .unwrap()
        .iter()
        .map(|e| (e.version, e.position))
        .collect();
    assert_eq!(stream, vec![(1, 0), (2, 1), (3, 3)]);
    let tail: Vec<u64> = log
        .read_stream(&a, 3, 10)
        .unwrap()
        .iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(tail, vec![3]);
    assert_eq!(log.read_stream(&a, 1, 2).unwrap().len(), 2);
}

fn stale_or_future_expected_version_is_a_conflict_and_writes_nothing<B: Backend>(
    log: &EventLog<B>,
) {
    let a = chat("ann", "bob");
    log.append(request(&a, 0, &[1])).unwrap();
    for expected in [0, 5] {
        match log.append(request(&a, expected, &[9])) {
            Err(StoreError::Conflict {
                expected_version,
                actual_version: 1,
                ..
            }) => assert_eq!(expected_version, expected),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    assert_eq!(log.head(), 1);
    assert_eq!(ids(log).len(), 1);
}

fn retried_append_returns_the_original_positions_and_writes_nothing<B: Backend>(log: &EventLog<B>) {
    let a = chat("ann", "bob");
    log.append(request(&a, 0, &[1])).unwrap();
    let first = log.append(request(&a, 1, &[2, 3])).unwrap();
    log.append(request(&a, 3, &[4])).unwrap();
    let again = log.append(request(&a, 1, &[2, 3])).unwrap();
    assert!(again.duplicate && !first.duplicate);
    assert_eq!(
        (again.first_position, again.count, again.version),
        (first.first_position, 2, 3)
    );
    assert_eq!(log.head(), 4);
}

fn partial_duplicate_is_a_typed_error<B: Backend>(log: &EventLog<B>) {
    let a = chat("ann", "bob");
    log.append(request(&a, 0, &[1, 2])).unwrap();
    assert!(matches!(
        log.append(request(&a, 0, &[1, 7])),
        Err(StoreError::DuplicateMismatch { .. })
    ));
    assert!(matches!(
        log.append(request(&a, 0, &[2, 1])),
        Err(StoreError::DuplicateMismatch { .. })
    ));
    assert_eq!(log.head(), 2);
}

fn bad_appends_are_refused<B: Backend>(log: &EventLog<B>) {
    let a = chat("ann", "bob");
    assert!(matches!(
        log.append(request(&a, 0, &[])),
        Err(StoreError::EmptyAppend)
    ));
    let mut r = request(&a, 0, &[1]);
    r.events.push(sent(&chat("ann", "cat"), 2));
    assert!(matches!(log.append(r), Err(StoreError::WrongStream { .. })));
    assert_eq!(log.head(), 0);
}

fn an_event_id_is_never_stored_twice_within_a_batch<B: Backend>(log: &EventLog<B>) {
    let (a, b) = (chat("ann", "bob"), chat("ann", "cat"));
    // A later event of one request repeating an earlier request's event id.
    let batch = [request(&a, 0, &[1]), request(&b, 0, &[2, 1 + (1 << 64)])];
    let mut clash = batch.clone();
    clash[1].events[1].id = clash[0].events[0].id;
    assert!(matches!(
        log.append_batch(&clash),
        Err(StoreError::DuplicateInBatch(_))
    ));
    // Two events of one request sharing an id.
    let mut twice = request(&a, 0, &[5, 6]);
    twice.events[1].id = twice.events[0].id;
    assert!(matches!(
        log.append(twice),
        Err(StoreError::DuplicateInBatch(_))
    ));
    assert_eq!(log.head(), 0, "nothing written");
    // The same whole decision twice in one batch is one append.
    let same = [request(&a, 0, &[7]), request(&a, 0, &[7])];
    let out = log.append_batch(&same).unwrap();
    assert!(!out[0].duplicate && out[1].duplicate);
    assert_eq!(log.head(), 1);
}

fn a_batch_is_all_or_nothing<B: Backend>(log: &EventLog<B>) {
    let (a, b) = (chat("ann", "bob"), chat("ann", "cat"));
    log.append(request(&b, 0, &[1])).unwrap();
    let batch = [request(&a, 0, &[2]), request(&b, 0, &[3])];
    assert!(matches!(
        log.append_batch(&batch),
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(log.head(), 1);
    assert_eq!(log.version(&a).unwrap(), 0);
    let ok = log
        .append_batch(&[
            request(&a, 0, &[2]),
            request(&b, 1, &[3]),
            request(&a, 1, &[4]),
        ])
        .unwrap();
    assert_eq!(
        ok.iter()
            .map(|o| (o.first_position, o.version))
            .collect::<Vec<_>>(),
        vec![(1, 1), (2, 2), (3, 2)]
    );
    let versions: Vec<u64> = log
        .read_stream(&a, 1, 10)
        .unwrap()
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(versions, vec![1, 3]);
}

fn read_from_a_middle_position<B: Backend>(log: &EventLog<B>) {
    let a = chat("ann", "bob");
    log.append(request(&a, 0, &[1, 2, 3])).unwrap();
    log.append(request(&a, 3, &[4, 5])).unwrap();
    let got: Vec<u64> = log
        .read_from(2, 2)
        .unwrap()
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(got, vec![2, 3]);
    assert!(log.read_from(5, 10).unwrap().is_empty());
    let mut seen = Vec::new();
    let reached = log.replay_range(1, 4, |e| seen.push(e.position)).unwrap();
    assert_eq!(
        (seen, reached),
        (vec![1, 2, 3], 4),
        "bounded replay stops at its end"
    );
    assert_eq!(
        log.replay_range(0, 99, |_| {}).unwrap(),
        5,
        "the end is capped at the head"
    );
}

fn snapshot_plus_tail_equals_full_replay<B: Backend>(log: &EventLog<B>) {
    let mut w = Workload::new(7);
    for i in 0..300 {
        let r = w.next_request(log);
        log.append(r.clone()).unwrap();
        w.apply(&r);
        if i == 150 {
            log.save_snapshot(log.head(), &w.state).unwrap();
        }
    }
    let (end, recovered) = log.recover().unwrap();
    let (_, full) = log.rebuild().unwrap();
    assert_eq!(end, log.head());
    assert_eq!(recovered, full);
    assert_eq!(recovered, w.state);
    assert!(log.load_snapshot().is_some_and(|(p, _)| p > 0));
}

fn an_unusable_snapshot_is_ignored<B: Backend>(log: &EventLog<B>) {
    let a = chat("ann", "bob");
    log.append(request(&a, 0, &[1])).unwrap();
    log.backend().put_snapshot(b"garbage".to_vec()).unwrap();
    assert!(log.load_snapshot().is_none());
    let (end, state) = log.recover().unwrap();
    assert_eq!((end, state.events_applied()), (1, 1));
}

conformance! {
    gapless_positions_and_versions => appends_get_gapless_positions_and_stream_versions;
    conflicts_write_nothing => stale_or_future_expected_version_is_a_conflict_and_writes_nothing;
    retried_append_is_idempotent => retried_append_returns_the_original_positions_and_writes_nothing;
    partial_duplicate_is_rejected => partial_duplicate_is_a_typed_error;
    empty_or_wrong_stream_refused => bad_appends_are_refused;
    batch_is_atomic => a_batch_is_all_or_nothing;
    no_event_id_twice_in_a_batch => an_event_id_is_never_stored_twice_within_a_batch;
    read_from_middle => read_from_a_middle_position;
    snapshot_plus_tail => snapshot_plus_tail_equals_full_replay;
    unusable_snapshot_ignored => an_unusable_snapshot_is_ignored;
}

#[test]
fn sled_log_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let a = chat("ann", "bob");
    {
        let log = SledLog::open_dir(dir.path(), Durability::EveryAppend).unwrap();
        log.append(request(&a, 0, &[1, 2])).unwrap();
    }
    let log = SledLog::open_dir(dir.path(), Durability::EveryAppend).unwrap();
    assert_eq!((log.head(), log.version(&a).unwrap()), (2, 2));
    assert!(matches!(
        log.append(request(&a, 0, &[3])),
        Err(StoreError::Conflict { .. })
    ));
    assert!(log.append(request(&a, 0, &[1, 2])).unwrap().duplicate);
}

#[test]
fn a_store_held_open_elsewhere_is_a_typed_locked_error() {
    let dir = tempfile::tempdir().unwrap();
    let _held = SledLog::open_dir(dir.path(), Durability::EveryAppend).unwrap();
    // sled locks the directory per process handle; a second handle in this process is refused
    // like another process would be, after the bounded wait.
    match SledLog::open_dir(dir.path(), Durability::EveryAppend) {
        Err(StoreError::Locked(path)) => assert!(path.contains(dir.path().to_str().unwrap())),
        Err(e) => panic!("expected Locked, got {e}"),
        Ok(_) => panic!("a held store opened twice"),
    }
}

#[test]
fn a_refused_open_writes_nothing_and_stays_refused() {
    // sled's files go back to an earlier state while the ledger keeps what was acknowledged
    // since: every open must refuse, and a refused open must not touch the ledger (a log
    // dropped after a failed open used to commit, recording the shorter head as acknowledged).
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let earlier = dir.path().join("earlier");
    let a = chat("ann", "bob");
    {
        let log = SledLog::open_dir(&store, Durability::EveryAppend).unwrap();
        log.append(request(&a, 0, &[1])).unwrap();
    }
    copy_tree(&store, &earlier);
    {
        let log = SledLog::open_dir(&store, Durability::EveryAppend).unwrap();
        for n in 1..4u64 {
            log.append(request(&a, n, &[u128::from(n) + 1])).unwrap();
        }
    }
    let ledger = std::fs::read(store.join(LEDGER_FILE)).unwrap();
    std::fs::remove_dir_all(&store).unwrap();
    copy_tree(&earlier, &store);
    std::fs::write(store.join(LEDGER_FILE), &ledger).unwrap();
    for attempt in 0..3 {
        let refused = SledLog::open_dir(&store, Durability::EveryAppend).err();
        assert!(
            matches!(
                refused,
                Some(StoreError::Lost {
                    acknowledged: 4,
                    found: 1,
                    ..
                })
            ),
            "attempt {attempt}: {refused:?}"
        );
        assert_eq!(
            std::fs::read(store.join(LEDGER_FILE)).unwrap(),
            ledger,
            "attempt {attempt} changed the ledger"
        );
    }
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}
