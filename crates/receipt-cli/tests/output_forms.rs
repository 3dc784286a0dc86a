//! What the CLI prints: counts with thousands separators in `verify`'s report, and `--json`
//! refused (exit 2) by a command that prints a report instead of ignored.

use std::process::{Command, Output};

fn receipts(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_receipts"))
        .args(args)
        .output()
        .expect("run receipts")
}

#[test]
fn verify_counts_with_separators_and_json_is_refused_where_it_would_be_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s");
    let db = db.to_str().unwrap();
    let demo = receipts(&["demo", "--db", db, "--commands", "2000"]);
    assert!(demo.status.success(), "{demo:?}");
    let verify = receipts(&["verify", "--db", db]);
    assert!(verify.status.success(), "{verify:?}");
    let said = String::from_utf8_lossy(&verify.stdout).into_owned();
    let events: String = said
        .trim_start_matches("ok: ")
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    assert!(
        events.contains(','),
        "more than 999 events, with a separator: {said}"
    );
    for command in ["verify", "rebuild", "demo"] {
        let refused = receipts(&[command, "--db", db, "--json"]);
        assert_eq!(refused.status.code(), Some(2), "{command}: {refused:?}");
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("--json is for inspect"),
            "{command}: {refused:?}"
        );
    }
    let inspect = receipts(&["inspect", "--db", db, "--json", "user", "user1"]);
    assert!(inspect.status.success(), "{inspect:?}");
    let parsed: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert!(parsed["badge"].is_number(), "{parsed}");
}
