//! The clean-close marker: a store closed cleanly opens without copying its files first (the
//! copy made every open cost the whole store); any other store is copied before sled touches
//! it, so a refused open keeps the files as they were. Either way damage is refused, never
//! opened as a shorter log.

mod support;

use receipt_store::*;
use std::path::Path;

use receipt_workload::disk::copies_beside;
use support::{cut_db_in_half, write_sled_store as write_store};

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

#[test]
fn failed_opens_keep_one_copy_the_state_before_the_first_and_a_passing_open_removes_it() {
    let parent = tempfile::tempdir().unwrap();
    let store = parent.path().join("store");
    write_store(&store, 400);
    std::fs::remove_file(store.join(CLEAN_CLOSE_FILE)).unwrap();
    cut_db_in_half(&store);
    let before = std::fs::read(store.join("db")).unwrap();
    for attempt in 0..4 {
        let refused = SledLog::open_dir(&store, Durability::EveryAppend)
            .expect_err("a store cut in half must not open");
        let kept = kept_copy(&refused).expect("the refusal names the copy");
        assert_eq!(Path::new(&kept), pre_open_copy_path(&store), "{refused}");
        assert_eq!(
            copies_beside(&store),
            vec![pre_open_copy_path(&store)],
            "attempt {attempt}: one copy, however often the open is retried"
        );
        assert_eq!(
            std::fs::read(Path::new(&kept).join("db")).unwrap(),
            before,
            "attempt {attempt}: the copy shows the files before the first open"
        );
    }
    // The store made whole again (here: a fresh one written in its place, same path): an open
    // that passes its checks removes a copy of the state it opened, and keeps any other.
    std::fs::remove_dir_all(&store).unwrap();
    write_store(&store, 10);
    let log = SledLog::open_dir(&store, Durability::EveryAppend).unwrap();
    drop(log);
    assert_eq!(
        copies_beside(&store),
        vec![pre_open_copy_path(&store)],
        "a copy of another state is not the opened store's: kept"
    );
    // That copy is never reused for this store, nor replaced: the unclean open is refused.
    std::fs::remove_file(store.join(CLEAN_CLOSE_FILE)).unwrap();
    let refused = SledLog::open_dir(&store, Durability::EveryAppend)
        .expect_err("a copy of another state is in the way");
    assert!(
        matches!(&refused, StoreError::CopyInTheWay { copy, .. } if Path::new(copy) == pre_open_copy_path(&store)),
        "{refused}"
    );
    assert_eq!(
        std::fs::read(pre_open_copy_path(&store).join("db")).unwrap(),
        before,
        "the copy in the way is left as it was"
    );
    // Moved away, the next open copies afresh, passes, and removes its own copy.
    std::fs::rename(pre_open_copy_path(&store), parent.path().join("moved")).unwrap();
    let log = SledLog::open_dir(&store, Durability::EveryAppend).unwrap();
    assert_eq!(log.head(), 10);
    assert_eq!(copies_beside(&store), Vec::<std::path::PathBuf>::new());
}

#[test]
fn a_copy_interrupted_by_a_crash_is_never_trusted() {
    let parent = tempfile::tempdir().unwrap();
    let store = parent.path().join("store");
    write_store(&store, 400);
    std::fs::remove_file(store.join(CLEAN_CLOSE_FILE)).unwrap();
    // What a kill -9 in the middle of the copy leaves: a `.partial` copy with part of the files.
    let partial = parent.path().join("store.before-open.partial");
    std::fs::create_dir(&partial).unwrap();
    std::fs::write(partial.join("db"), b"half a file").unwrap();
    cut_db_in_half(&store);
    let before = std::fs::read(store.join("db")).unwrap();
    let refused = SledLog::open_dir(&store, Durability::EveryAppend).expect_err("cut in half");
    let kept = kept_copy(&refused).expect("named");
    assert_eq!(std::fs::read(Path::new(&kept).join("db")).unwrap(), before);
    assert_eq!(copies_beside(&store), vec![pre_open_copy_path(&store)]);
}
