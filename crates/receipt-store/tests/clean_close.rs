//! The clean-close marker: a store closed cleanly opens without copying its files first (the
//! copy made every open cost the whole store); any other store is copied before sled touches
//! it, so a refused open keeps the files as they were. Either way damage is refused, never
//! opened as a shorter log.

mod support;

use receipt_store::*;
use std::path::Path;

use support::write_sled_store as write_store;

/// Truncates sled's `db` file to half: acknowledged events are gone.
fn cut_db_in_half(dir: &Path) {
    let db = dir.join("db");
    let len = std::fs::metadata(&db).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
}

fn kept_copy(e: &StoreError) -> Option<String> {
    match e {
        StoreError::Lost { kept, .. } | StoreError::Damaged { kept, .. } => kept.clone(),
        _ => None,
    }
}

#[test]
fn a_clean_close_is_recorded_and_taken_back_by_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    write_store(dir.path(), 50);
    let marker = dir.path().join(CLEAN_CLOSE_FILE);
    assert!(marker.exists(), "a clean close is recorded");
    let log = SledLog::open_dir(dir.path(), Durability::EveryAppend).unwrap();
    assert!(!marker.exists(), "an open store never carries the marker");
    assert_eq!(log.head(), 50);
    drop(log);
    assert!(marker.exists());
}

#[test]
fn damage_after_a_clean_close_is_refused_without_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    write_store(dir.path(), 400);
    cut_db_in_half(dir.path());
    let refused = SledLog::open_dir(dir.path(), Durability::EveryAppend)
        .expect_err("a store cut in half must not open");
    assert!(
        matches!(
            refused,
            StoreError::Lost { .. } | StoreError::Damaged { .. }
        ),
        "{refused}"
    );
    assert_eq!(kept_copy(&refused), None, "no copy after a clean close");
    assert!(!dir.path().join(CLEAN_CLOSE_FILE).exists());
}

#[test]
fn damage_after_an_unclean_close_is_refused_and_the_files_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    write_store(dir.path(), 400);
    // As after a crash: no marker.
    std::fs::remove_file(dir.path().join(CLEAN_CLOSE_FILE)).unwrap();
    cut_db_in_half(dir.path());
    let before = std::fs::read(dir.path().join("db")).unwrap();
    let refused = SledLog::open_dir(dir.path(), Durability::EveryAppend)
        .expect_err("a store cut in half must not open");
    let kept = kept_copy(&refused).expect("the files are kept after an unclean close");
    assert_eq!(std::fs::read(Path::new(&kept).join("db")).unwrap(), before);
    // A refused store records no clean close: the next open copies again.
    assert!(!dir.path().join(CLEAN_CLOSE_FILE).exists());
    std::fs::remove_dir_all(kept).unwrap();
}
