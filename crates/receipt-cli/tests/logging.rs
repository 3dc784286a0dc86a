//! `RUST_LOG=debug` shows the engine's lines, not sled's: sled's debug output ("segment ... had
//! computed crc ..., but stored crc ...") reads like damage. Naming sled in `RUST_LOG` shows it.

use std::process::Command;

fn receipts(args: &[&str], rust_log: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_receipts"))
        .args(args)
        .env("RUST_LOG", rust_log)
        .output()
        .expect("run receipts")
}

#[test]
fn debug_logging_leaves_sled_out_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s");
    let db = db.to_str().unwrap();
    let demo = receipts(&["demo", "--db", db, "--commands", "200"], "off");
    assert!(demo.status.success(), "{demo:?}");
    let sled_lines = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .filter(|l| l.contains(" sled::"))
            .count()
    };
    let debug = receipts(&["--db", db, "inspect", "user", "user1"], "debug");
    assert!(debug.status.success(), "{debug:?}");
    assert_eq!(
        sled_lines(&debug),
        0,
        "{}",
        String::from_utf8_lossy(&debug.stderr)
    );
    assert!(
        String::from_utf8_lossy(&debug.stderr).contains("receipt"),
        "the engine's own lines are there"
    );
    let asked = receipts(
        &["--db", db, "inspect", "user", "user1"],
        "debug,sled=debug",
    );
    assert!(sled_lines(&asked) > 0, "naming sled shows its lines");
}
