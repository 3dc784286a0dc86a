//! Commands that copy a store (verify and salvage work on a scratch copy in TMPDIR) on a
//! temporary directory too small for it: the error names the copy, TMPDIR and the bytes needed
//! (not the store's `db`, which is fine), and no partial copy is left behind.

use receipt_workload::disk::Tmpfs;
use std::path::Path;
use std::process::{Command, Output};

fn receipts(args: &[&str], tmpdir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_receipts"))
        .args(args)
        .env("TMPDIR", tmpdir)
        .output()
        .expect("run receipts")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn verify_and_salvage_with_a_full_tmpdir_name_the_scratch_copy_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    let demo = receipts(
        &[
            "demo",
            "--db",
            db.to_str().unwrap(),
            "--commands",
            "3000",
            "--seed",
            "3",
        ],
        dir.path(),
    );
    assert!(demo.status.success(), "{}", stderr(&demo));
    let small = tempfile::tempdir().unwrap();
    let tmp = Tmpfs::mount(small.path(), 256 << 10).unwrap_or_else(|e| panic!("{e}"));
    for command in ["verify", "salvage"] {
        let into = dir.path().join(format!("{command}-into"));
        let mut args = vec![command, "--db", db.to_str().unwrap()];
        if command == "salvage" {
            args.extend(["--into", into.to_str().unwrap()]);
        }
        let out = receipts(&args, tmp.path());
        assert_eq!(out.status.code(), Some(1), "{command}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&tmp.path().display().to_string())
                && err.contains("TMPDIR")
                && err.contains("bytes free")
                && err.contains("No space left on device")
                && !err.contains("/db"),
            "{command}: {err}"
        );
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "{command}: no partial scratch copy is left"
        );
        assert!(!into.exists(), "{command}: no new store was begun");
    }
}
