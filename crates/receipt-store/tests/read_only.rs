//! A log opened read-only (`SledLog::open_dir_read_only`) refuses every write before anything
//! is touched, makes no sync call, and applies the same checks as a writing open: damage is
//! refused, never opened as a shorter log; a store that would need writing to open is
//! `NeedsRecovery`.

mod support;

use receipt_store::*;
use support::{chat, cut_db_in_half, request, write_sled_store};

#[test]
fn every_write_to_a_read_only_log_is_refused_and_nothing_is_synced() {
    let dir = tempfile::tempdir().unwrap();
    write_sled_store(dir.path(), 50);
    let ledger = std::fs::read(dir.path().join("receipts.ledger")).unwrap();
    {
        let log = SledLog::open_dir_read_only(dir.path(), None).unwrap();
        assert!(log.is_read_only());
        assert_eq!(log.head(), 50);
        let c = chat("ann", "bob");
        let refused = |r: Result<(), StoreError>, what: &str| match r {
            Err(StoreError::ReadOnly { location }) => {
                assert!(location.contains(&*dir.path().to_string_lossy()), "{what}")
            }
            other => panic!("{what}: expected ReadOnly, got {other:?}"),
        };
        refused(log.append(request(&c, 50, &[51])).map(|_| ()), "append");
        // A retry of a stored append is refused too: a read-only log takes no append at all.
        refused(log.append(request(&c, 0, &[1])).map(|_| ()), "retry");
        refused(
            log.record_noop(receipt_domain::CommandId(uuid::Uuid::now_v7()))
                .map(|_| ()),
            "no-op record",
        );
        refused(
            log.write_checkpoint(&CheckpointWrite::default())
                .map(|_| ()),
            "checkpoint",
        );
        log.flush().unwrap();
        assert_eq!(log.head(), 50, "nothing appended");
        assert_eq!(log.read_stream(&c, 1, usize::MAX).unwrap().len(), 50);
        assert_eq!(
            log.syncs(),
            SyncCounts::default(),
            "no sync, no flush begun"
        );
    }
    assert_eq!(
        std::fs::read(dir.path().join("receipts.ledger")).unwrap(),
        ledger
    );
    assert!(
        dir.path().join(CLEAN_CLOSE_FILE).exists(),
        "the marker the writer left is still there"
    );
    let log = SledLog::open_dir(dir.path(), Durability::EveryAppend).unwrap();
    assert_eq!(log.head(), 50);
}

#[test]
fn a_damaged_store_is_refused_read_only_as_by_a_writing_open() {
    let dir = tempfile::tempdir().unwrap();
    write_sled_store(dir.path(), 400);
    cut_db_in_half(dir.path());
    let refused = SledLog::open_dir_read_only(dir.path(), None)
        .expect_err("a store cut in half must not open, read-only or not");
    assert!(
        matches!(
            refused,
            StoreError::Lost { .. } | StoreError::Damaged { .. }
        ),
        "{refused}"
    );
}

#[test]
fn a_store_whose_index_a_crash_left_behind_needs_a_writing_open() {
    let dir = tempfile::tempdir().unwrap();
    write_sled_store(dir.path(), 20);
    {
        // The index watermark (`h`) is written every 64 chunks and at close: put it back to
        // 10, as a crash before the next one would have left it (sled itself, as a tamperer
        // would; the clean-close marker stays).
        let db = sled::Config::new()
            .path(dir.path())
            .flush_every_ms(None)
            .open()
            .unwrap();
        let tree = db.open_tree("receipts").unwrap();
        tree.insert(b"h", 10u64.to_be_bytes().to_vec()).unwrap();
        db.flush().unwrap();
    }
    assert!(dir.path().join(CLEAN_CLOSE_FILE).exists());
    match SledLog::open_dir_read_only(dir.path(), None) {
        Err(StoreError::NeedsRecovery { reason, .. }) => {
            assert!(reason.contains("index entries"), "{reason}")
        }
        other => panic!("expected NeedsRecovery, got {:?}", other.map(|l| l.head())),
    }
}
