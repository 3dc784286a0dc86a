//! The ledger is bound to its keyspace by a store tag: a store bound to a ledger never opens or
//! verifies without it (a deleted ledger is not recreated over a shorter log), another store's
//! ledger is refused by name, and a store written before the binding is bound at its next open.

mod support;

use receipt_store::*;
use std::path::Path;

use support::write_sled_store as write_store;

fn ledger(dir: &Path) -> std::path::PathBuf {
    dir.join(LEDGER_FILE)
}

#[test]
fn a_deleted_ledger_is_refused_at_open_and_by_verify_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    write_store(dir.path(), 60);
    std::fs::remove_file(ledger(dir.path())).unwrap();
    let refused = SledLog::open_dir(dir.path(), Durability::EveryAppend)
        .expect_err("a store bound to a ledger must not open without it");
    assert!(
        matches!(refused, StoreError::LedgerMissing { ref location } if location == &dir.path().display().to_string()),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("receipts salvage"),
        "{refused}"
    );
    assert!(!ledger(dir.path()).exists(), "no ledger was recreated");
    let refused = verify_store(dir.path()).expect_err("verify must refuse too");
    assert!(
        matches!(refused, StoreError::LedgerMissing { .. }),
        "{refused}"
    );
    // Again, and again: the refusal does not wear off.
    assert!(matches!(
        SledLog::open_dir(dir.path(), Durability::EveryAppend),
        Err(StoreError::LedgerMissing { .. })
    ));
}

#[test]
fn another_store_s_ledger_is_refused_by_name() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_store(a.path(), 40);
    write_store(b.path(), 40);
    std::fs::copy(ledger(b.path()), ledger(a.path())).unwrap();
    let refused = SledLog::open_dir(a.path(), Durability::EveryAppend)
        .expect_err("another store's ledger must not open");
    let StoreError::ForeignLedger {
        ledger_tag,
        store_tag,
        ..
    } = refused
    else {
        panic!("expected ForeignLedger, got {refused}");
    };
    assert_ne!(ledger_tag, store_tag);
    assert!(matches!(
        verify_store(a.path()),
        Err(StoreError::ForeignLedger { .. })
    ));
}

#[test]
fn a_store_written_before_the_binding_is_bound_at_its_next_open() {
    // The v2 fixture: layout 2, a version-1 ledger, no store tag.
    let dir = tempfile::tempdir().unwrap();
    support::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v2/sled"),
        dir.path(),
    );
    let before = std::fs::read(ledger(dir.path())).unwrap();
    assert!(
        before
            .chunks(48)
            .all(|slot| slot[4] == 1 || slot[..4] != *b"RLDG"),
        "a version-1 ledger"
    );
    let log = SledLog::open_dir(dir.path(), Durability::EveryAppend).unwrap();
    assert_eq!(log.durable_head(), 200);
    let c = support::chat("zed", "zoe");
    log.append(support::request(&c, 0, &[999])).unwrap();
    drop(log);
    // Bound now: its ledger (version 2 since that append) cannot go missing unnoticed.
    let after = std::fs::read(ledger(dir.path())).unwrap();
    assert!(
        after.chunks(48).any(|slot| slot[4] == 2),
        "rewritten as version 2"
    );
    std::fs::remove_file(ledger(dir.path())).unwrap();
    assert!(matches!(
        SledLog::open_dir(dir.path(), Durability::EveryAppend),
        Err(StoreError::LedgerMissing { .. })
    ));
}

#[test]
fn a_store_bound_by_an_open_that_only_read_refuses_to_lose_its_version_1_ledger() {
    let dir = tempfile::tempdir().unwrap();
    support::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v2/sled"),
        dir.path(),
    );
    drop(SledLog::open_dir(dir.path(), Durability::EveryAppend).unwrap());
    let kept = std::fs::read(ledger(dir.path())).unwrap();
    std::fs::remove_file(ledger(dir.path())).unwrap();
    assert!(matches!(
        SledLog::open_dir(dir.path(), Durability::EveryAppend),
        Err(StoreError::LedgerMissing { .. })
    ));
    // Its own ledger put back: it opens with every acknowledged event.
    std::fs::write(ledger(dir.path()), kept).unwrap();
    let log = SledLog::open_dir(dir.path(), Durability::EveryAppend).unwrap();
    assert_eq!(log.durable_head(), 200);
}
