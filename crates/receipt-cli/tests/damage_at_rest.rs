//! Damage at rest in an old record: the open (which checks the tail only, so that it does not
//! cost the history) cannot see it, but `verify` does, and `exec`, which writes, checks the
//! whole history first and refuses. A store known to be damaged takes no writes through the
//! CLI: the ledger, which moves with every acknowledged write, is left byte for byte as it was.

use receipt_store::{Backend, SledBackend, LEDGER_FILE};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn receipts(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_receipts"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run receipts");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Flips one byte in the payload of the store's first chunk, through sled (so sled's own page
/// checksums are right and only the chunk's own check can tell): a bad write or bit rot that
/// sled did not catch.
fn damage_first_chunk(db: &Path) -> u64 {
    let backend = SledBackend::open(db, None).unwrap();
    let (key, mut value) = backend.range(b"c", b"d").next().expect("a chunk").unwrap();
    let last = value.len() - 1;
    value[last] ^= 0x40;
    backend.write_each(vec![(key.clone(), value)]).unwrap();
    backend.flush().unwrap();
    u64::from_be_bytes(key[1..9].try_into().unwrap())
}

#[test]
fn exec_refuses_a_store_whose_history_verify_finds_damaged_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    let db_arg = db.to_str().unwrap();
    let demo = receipts(
        &["demo", "--db", db_arg, "--commands", "3000", "--seed", "5"],
        b"",
    );
    assert!(demo.status.success(), "{}", stderr(&demo));
    let position = damage_first_chunk(&db);
    let ledger = std::fs::read(db.join(LEDGER_FILE)).unwrap();

    let verify = receipts(&["verify", "--db", db_arg], b"");
    assert_eq!(verify.status.code(), Some(1), "{}", stderr(&verify));
    let found = stderr(&verify);
    assert!(
        found.contains(&format!("position {position}")),
        "verify names the record: {found}"
    );

    let line = br#"{"CreateGroup":{"group":"late","owner":"ann","members":["bob"]}}"#;
    let exec = receipts(&["exec", "--db", db_arg], line);
    assert_eq!(exec.status.code(), Some(1), "{}", stderr(&exec));
    let refused = stderr(&exec);
    assert!(
        refused.contains(&format!("position {position}")) && exec.stdout.is_empty(),
        "exec names the same record and answers no line: {refused}"
    );
    assert_eq!(
        std::fs::read(db.join(LEDGER_FILE)).unwrap(),
        ledger,
        "nothing was acknowledged"
    );
}
