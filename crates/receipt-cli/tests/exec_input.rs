//! `receipts exec`'s input door end to end: ids arriving as JSON follow the rules for new ids,
//! unknown fields and misspelled policy settings are refused by name, an overlong line is
//! refused, and a refused line changes nothing in the store.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn receipts(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_receipts"))
        .args(args)
        .output()
        .expect("run receipts")
}

fn exec(db: &Path, extra: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_receipts"))
        .args(["exec", "--db", db.to_str().unwrap()])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run receipts exec");
    let mut stdin = child.stdin.take().unwrap();
    // exec stops reading at a refused line: a closed pipe is its answer, not a failure here.
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn export(db: &Path) -> String {
    let out = receipts(&["export", "--db", db.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_refused_line_names_its_field_and_rule_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    let setup = exec(
        &db,
        &[],
        br#"{"CreateGroup":{"group":"team","owner":"ann","members":["bob"]}}"#,
    );
    assert!(setup.status.success(), "{}", stderr(&setup));
    let before = export(&db);

    let cases: [(&[u8], &str); 6] = [
        (
            br#"{"CreateGroup":{"group":"team2","owner":"ann","members":["bob","bob\u200b","\u202eevad","cafe\u0301","caf\u00e9"]}}"#,
            "CreateGroup.members[1]: user id contains an invisible format character or separator (U+200B)",
        ),
        (
            br#"{"JoinGroup":{"group":"team","user":"cafe\u0301","role":"Member"}}"#,
            "JoinGroup.user: user id is not in Unicode normalization form C",
        ),
        (
            br#"{"JoinGroup":{"group":"team","user":"\ufeffdan","role":"Member"}}"#,
            "JoinGroup.user: user id contains an invisible format character or separator (U+FEFF)",
        ),
        (
            br#"{"JoinGroup":{"group":"team","user":"dan","role":"Member","rol":"Admin"}}"#,
            "JoinGroup.rol: unknown field `rol`",
        ),
        (
            br#"{"JoinGroup":{"group":"team","user":"dan","role":"Emperor"}}"#,
            "JoinGroup.role: unknown variant `Emperor`",
        ),
        (b"\xff\xfe not utf-8", "not UTF-8"),
    ];
    for (line, expected) in cases {
        // The refused line comes after a valid one and before another: the first runs, the
        // refused one and everything after it do not.
        let mut input = br#"{"JoinGroup":{"group":"team","user":"cat","role":"Member"}}"#.to_vec();
        input.push(b'\n');
        input.extend_from_slice(line);
        input.extend_from_slice(
            b"\n{\"JoinGroup\":{\"group\":\"team\",\"user\":\"eve\",\"role\":\"Member\"}}\n",
        );
        let out = exec(&db, &[], &input);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("line 2 is not a command ({expected}")),
            "expected {expected:?} in {}",
            stderr(&out)
        );
        let after = export(&db);
        assert!(after.starts_with(&before), "the store kept what it had");
        assert!(
            after.contains("\"cat\"") && !after.contains("\"eve\""),
            "{after}"
        );
        assert!(
            !after.contains("dan") && !after.contains("team2"),
            "{after}"
        );
    }
}

#[test]
fn an_overlong_line_is_refused_without_running_anything() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    let mut input = br#"{"CreateGroup":{"group":"team","owner":"ann","members":[""#.to_vec();
    input.extend(std::iter::repeat_n(b'x', 3 << 20));
    input.extend_from_slice(b"\"]}}\n");
    let out = exec(&db, &[], &input);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 1 is not a command (the line is longer than 1048576 bytes)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(export(&db), "", "nothing ran");
}

#[test]
fn a_policy_file_with_an_unknown_setting_or_no_file_is_refused_by_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    let policy = dir.path().join("policy.json");
    std::fs::write(&policy, br#"{"require_read_ak": true}"#).unwrap();
    let out = exec(&db, &["--policy", policy.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let expected = format!(
        "policy file {}: unknown field `require_read_ak`",
        policy.display()
    );
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));

    let missing = dir.path().join("nonexistent.json");
    let out = exec(&db, &["--policy", missing.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let expected = format!(
        "policy file {}: No such file or directory",
        missing.display()
    );
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));

    std::fs::write(&policy, br#"{"max_group_size": 0}"#).unwrap();
    let out = exec(&db, &["--policy", policy.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("max_group_size must be at least 1"),
        "{}",
        stderr(&out)
    );

    // A known setting, the others at their defaults, works.
    std::fs::write(&policy, br#"{"require_read_ack": true}"#).unwrap();
    let out = exec(&db, &["--policy", policy.to_str().unwrap()], b"");
    assert!(out.status.success(), "{}", stderr(&out));
}
