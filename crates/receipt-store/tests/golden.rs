//! The golden fixture: a log written by storage format v1 (`tests/fixtures/v1`, made once by
//! `examples/write_golden_fixture.rs`). Every later version must still read it and produce the
//! same answers to the same queries.

mod support;

use receipt_domain::Policy;
use receipt_store::*;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1")
}

fn expected() -> String {
    std::fs::read_to_string(fixture().join("expected.txt")).unwrap()
}

fn records() -> Vec<Entry> {
    let bytes = std::fs::read(fixture().join("records.bin")).unwrap();
    let mut out = Vec::new();
    let mut rest = &bytes[..];
    let take = |rest: &mut &[u8]| {
        let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
        let v = rest[4..4 + len].to_vec();
        *rest = &rest[4 + len..];
        v
    };
    while !rest.is_empty() {
        let k = take(&mut rest);
        let v = take(&mut rest);
        out.push((k, v));
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn check<B: Backend>(log: &EventLog<B>) {
    let policy = Policy::all_receipts_on();
    let (end, full) = log.rebuild().unwrap();
    assert_eq!(end, 200);
    assert_eq!(support::describe::describe(&full, &policy, 40), expected());
    // The fixture's snapshot is used when this build still understands it; either way the
    // recovered projections are the same.
    let (end, recovered) = log.recover().unwrap();
    assert_eq!(end, 200);
    assert_eq!(recovered, full);
}

#[test]
fn the_v1_fixture_snapshot_is_used_while_the_state_layout_is_version_1() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture().join("sled"), dir.path());
    let log = SledLog::open_dir(dir.path(), Durability::EveryAppend).unwrap();
    // When SNAPSHOT_STATE_VERSION is bumped this snapshot is ignored (full replay), which the
    // other tests still check; until then it must load.
    if SNAPSHOT_STATE_VERSION == 1 {
        let (position, _) = log.load_snapshot().expect("the fixture's snapshot loads");
        assert!(position > 0 && position < 200);
    }
}

#[test]
fn v1_sled_log_is_still_read_with_the_same_projections() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture().join("sled"), dir.path());
    let log = SledLog::open_dir(dir.path(), Durability::EveryAppend).unwrap();
    check(&log);
}

#[test]
fn v1_exported_records_are_still_read_with_the_same_projections() {
    let backend = MemoryBackend::new();
    backend.write_atomic(records()).unwrap();
    check(&EventLog::open(backend, Durability::Buffered).unwrap());
}

#[test]
fn v1_records_carry_format_1_codec_1_schema_1() {
    let chunk = records().into_iter().find(|(k, _)| k[0] == b'c').unwrap().1;
    assert_eq!(&chunk[..4], b"RCPT");
    assert_eq!(
        (chunk[4], chunk[5], u16::from_le_bytes([chunk[6], chunk[7]])),
        (1, 1, 1)
    );
}
