//! The `receipts` binary end to end on temporary stores: demo, inspect (table and JSON),
//! rebuild, export, verify on a healthy store and on a deliberately damaged one.

use std::path::Path;
use std::process::{Command, Output};

fn receipts(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_receipts"))
        .args(args)
        .output()
        .expect("run receipts")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn demo(db: &Path) -> Output {
    let out = receipts(&[
        "demo",
        "--db",
        db.to_str().unwrap(),
        "--commands",
        "3000",
        "--seed",
        "3",
    ]);
    assert!(out.status.success(), "demo failed: {}", stderr(&out));
    out
}

#[test]
fn demo_reports_what_it_wrote_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    let text = stdout(&demo(&db));
    assert!(text.contains("events/s"), "{text}");
    assert!(
        text.contains("sent without the group read receipts they asked for")
            && text.contains("GroupTooLarge: the group had more members than max_group_size"),
        "{text}"
    );
    assert!(text.contains("users with the largest badges"), "{text}");
    let again = receipts(&["demo", "--db", db.to_str().unwrap(), "--commands", "10"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).starts_with("error: ") && stderr(&again).contains("--reset"),
        "{}",
        stderr(&again)
    );
    let reset = receipts(&[
        "demo",
        "--db",
        db.to_str().unwrap(),
        "--commands",
        "10",
        "--reset",
    ]);
    assert!(reset.status.success(), "{}", stderr(&reset));
}

#[test]
fn inspect_rebuild_export_and_verify_a_healthy_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    demo(&db);
    let d = db.to_str().unwrap();

    let user = receipts(&["inspect", "--db", d, "--json", "user", "user0"]);
    assert!(user.status.success(), "{}", stderr(&user));
    let json: serde_json::Value = serde_json::from_slice(&user.stdout).unwrap();
    assert_eq!(json["user"], "user0");
    let listed: u64 = json["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["unread"].as_u64().unwrap())
        .sum();
    assert_eq!(
        json["badge"].as_u64().unwrap(),
        listed,
        "the badge is the sum of the list"
    );

    let group = receipts(&["inspect", "--db", d, "conversation", "group", "group0"]);
    assert!(group.status.success(), "{}", stderr(&group));
    assert!(stdout(&group).contains("participant"), "{}", stdout(&group));

    let export = receipts(&["export", "--db", d, "--from", "5"]);
    assert!(export.status.success());
    let lines: Vec<serde_json::Value> = stdout(&export)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["position"], 5);
    assert!(lines
        .windows(2)
        .all(|w| w[1]["position"].as_u64() == Some(w[0]["position"].as_u64().unwrap() + 1)));

    // A message id from the export, inspected as its sender.
    let sent = lines.iter().find(|l| l["kind"] == "MessageSent").unwrap();
    let body = &sent["event"]["body"]["MessageSent"];
    let (id, sender) = (
        body["message"].as_str().unwrap(),
        body["sender"].as_str().unwrap(),
    );
    let msg = receipts(&["inspect", "--db", d, "message", id, "--as", sender]);
    assert!(msg.status.success(), "{}", stderr(&msg));
    assert!(stdout(&msg).contains("has_read_ack"), "{}", stdout(&msg));

    let rebuild = receipts(&["rebuild", "--db", d]);
    assert!(rebuild.status.success(), "{}", stderr(&rebuild));
    assert!(stdout(&rebuild).contains("events/s"));

    let verify = receipts(&["verify", "--db", d]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    assert!(stdout(&verify).starts_with("ok: "), "{}", stdout(&verify));
    assert!(
        stdout(&verify).contains("checkpoint at the head"),
        "{}",
        stdout(&verify)
    );
}

#[test]
fn verify_reports_the_first_damaged_position_and_fails() {
    use receipt_store::{Backend, SledBackend};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    demo(&db);
    // Flip one bit in the chunk at position 40's record, through the storage seam.
    let damaged_at = {
        let backend = SledBackend::open(&db, None).unwrap();
        let mut key = vec![b'c'];
        key.extend_from_slice(&40u64.to_be_bytes());
        let (k, mut v) = backend.last_between(b"c", &key).unwrap().unwrap();
        v[30] ^= 0x04;
        backend.write_atomic(vec![(k.clone(), v)]).unwrap();
        backend.flush().unwrap();
        u64::from_be_bytes(k[1..].try_into().unwrap())
    };
    let verify = receipts(&["verify", "--db", db.to_str().unwrap()]);
    assert!(!verify.status.success());
    let err = stderr(&verify);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(&format!("position {damaged_at}")), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_is_one_readable_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = receipts(&[
        "verify",
        "--db",
        dir.path().join("nothing").to_str().unwrap(),
    ]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("no receipt store"),
        "{}",
        stderr(&missing)
    );
    let db = dir.path().join("store");
    demo(&db);
    let bad = receipts(&["inspect", "--db", db.to_str().unwrap(), "user", ""]);
    assert!(!bad.status.success());
    assert_eq!(stderr(&bad).lines().count(), 1, "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("user id is empty"),
        "{}",
        stderr(&bad)
    );
    let help = receipts(&["--help"]);
    assert!(stdout(&help).contains("demo") && stdout(&help).contains("verify"));
}

/// Copies the files sled owns (everything but the ledger) from one store directory to another.
fn copy_sled_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == receipt_store::LEDGER_FILE {
            continue;
        }
        let target = to.join(&name);
        if entry.path().is_dir() {
            let _ = std::fs::remove_dir_all(&target);
            copy_sled_files(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_store_that_lost_acknowledged_events_is_refused_verified_in_place_and_salvaged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    demo(&db);
    // The loss a damaged disk or a lying drive cache causes, made deterministic: sled's files go
    // back to an earlier state while the ledger keeps recording what was acknowledged since.
    let earlier = dir.path().join("earlier-sled-files");
    copy_sled_files(&db, &earlier);
    let head_before = {
        use receipt_engine::*;
        let engine = Engine::open(
            &db,
            EngineOptions::default().with_policy(Policy::all_receipts_on()),
        )
        .unwrap();
        let (a, b) = (
            UserId::new("late-a").unwrap(),
            UserId::new("late-b").unwrap(),
        );
        let chat = ConversationId::direct(a.clone(), b).unwrap();
        let head = engine.head();
        for n in 0..5u128 {
            engine
                .send_message(&chat, MessageId(uuid_from(n)), &a)
                .unwrap();
        }
        head
    };
    copy_sled_files(&earlier, &db);
    let before = std::fs::read(db.join("db")).unwrap();
    let verify = receipts(&["verify", "--db", db.to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(1));
    let err = stderr(&verify);
    assert!(
        err.contains(&format!(
            "positions {head_before}..{} are lost",
            head_before + 5
        )),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("before-open"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(db.join("db")).unwrap(),
        before,
        "verify changed the store"
    );
    // Opening it for use refuses. The files come from a clean close (they carry its marker):
    // no copy is made.
    let marker = db.join(receipt_store::CLEAN_CLOSE_FILE);
    assert!(marker.exists());
    let inspect = receipts(&["inspect", "--db", db.to_str().unwrap(), "user", "user1"]);
    assert!(!inspect.status.success());
    let err = stderr(&inspect);
    assert!(
        err.contains("lost acknowledged events") && !err.contains("before-open"),
        "{err}"
    );
    // `inspect` opens read-only: it leaves the marker as it found it.
    assert!(marker.exists(), "a read-only open left the marker");
    // Without the marker (as after a crash) it opens as a writer would, and the refusal names
    // the copy of the files as they were.
    std::fs::remove_file(&marker).unwrap();
    let inspect = receipts(&["inspect", "--db", db.to_str().unwrap(), "user", "user1"]);
    assert!(!inspect.status.success());
    let err = stderr(&inspect);
    assert!(
        err.contains("lost acknowledged events") && err.contains("before-open"),
        "{err}"
    );
    // Salvage keeps what is readable and lists exactly what it dropped; the new store verifies.
    let new = dir.path().join("salvaged");
    let salvage = receipts(&[
        "salvage",
        "--db",
        db.to_str().unwrap(),
        "--into",
        new.to_str().unwrap(),
    ]);
    assert!(salvage.status.success(), "{}", stderr(&salvage));
    let text = stdout(&salvage);
    assert!(
        text.contains(&format!("copied {head_before} events"))
            && text.contains(&format!(
                "dropped positions {head_before}..{}: acknowledged, but not in the store",
                head_before + 5
            )),
        "{text}"
    );
    let verify_new = receipts(&["verify", "--db", new.to_str().unwrap()]);
    assert!(verify_new.status.success(), "{}", stderr(&verify_new));
}

fn uuid_from(n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(0xFEED_0000 + n)
}

#[test]
fn a_closed_output_pipe_ends_the_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    demo(&db);
    for args in [
        vec!["inspect", "--db", db.to_str().unwrap(), "user", "user1"],
        vec!["verify", "--db", db.to_str().unwrap()],
        vec!["export", "--db", db.to_str().unwrap()],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_receipts"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the command has printed anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            out.status.success() || out.status.signal() == Some(libc::SIGPIPE),
            "{args:?} ended with {}: {err}",
            out.status
        );
    }
}

#[test]
fn db_and_json_are_accepted_after_the_subcommand_and_every_argument_has_help() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    demo(&db);
    let out = receipts(&[
        "inspect",
        "user",
        "user1",
        "--db",
        db.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(value["badge"].is_u64(), "{value}");
    // Every option and argument says what it is for.
    for (args, phrases) in [
        (
            vec!["demo", "--help"],
            vec![
                "The store directory",
                "Print JSON",
                "Seed of the workload generator",
                "When appends reach the disk",
            ],
        ),
        (
            vec!["inspect", "message", "--help"],
            vec!["The message id", "The user looking at the message"],
        ),
        (vec!["inspect", "user", "--help"], vec!["The user id"]),
        (
            vec!["inspect", "conversation", "direct", "--help"],
            vec!["One user", "The other user"],
        ),
        (
            vec!["inspect", "conversation", "--help"],
            vec!["The direct chat between two users", "A group chat"],
        ),
    ] {
        let help = stdout(&receipts(&args));
        for phrase in phrases {
            assert!(help.contains(phrase), "{args:?} lacks {phrase:?}: {help}");
        }
    }
}

#[test]
fn exit_codes_follow_one_convention_and_an_unknown_user_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    let d = db.to_str().unwrap();
    // No store yet: not found.
    let none = receipts(&["inspect", "--db", d, "user", "user0"]);
    assert_eq!(none.status.code(), Some(3), "{}", stderr(&none));
    demo(&db);
    let unknown = receipts(&["inspect", "--db", d, "user", "nobody"]);
    assert_eq!(unknown.status.code(), Some(3), "{}", stderr(&unknown));
    assert!(
        stderr(&unknown).contains("unknown user nobody"),
        "{}",
        stderr(&unknown)
    );
    assert!(
        stdout(&unknown).is_empty(),
        "no badge 0 for a user nobody knows"
    );
    // Malformed input, whether clap or the id rules refuse it: usage.
    let bad_uuid = receipts(&["inspect", "--db", d, "message", "not-a-uuid", "--as", "a"]);
    assert_eq!(bad_uuid.status.code(), Some(2), "{}", stderr(&bad_uuid));
    let bad_id = receipts(&["inspect", "--db", d, "user", "a\u{7}b"]);
    assert_eq!(bad_id.status.code(), Some(2), "{}", stderr(&bad_id));
    let unknown_message = receipts(&[
        "inspect",
        "--db",
        d,
        "message",
        "0190a0b0-0000-7000-8000-000000000000",
        "--as",
        "user0",
    ]);
    assert_eq!(
        unknown_message.status.code(),
        Some(3),
        "{}",
        stderr(&unknown_message)
    );
    let help = stdout(&receipts(&["--help"]));
    assert!(help.contains("Exit codes"), "{help}");
}

#[test]
fn output_is_for_people_times_yes_no_and_one_form_of_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    let report = stdout(&demo(&db));
    let d = db.to_str().unwrap();
    // Tallies say what each reason means; no fixed "largest 3000".
    assert!(report.contains("rejected, changing nothing"), "{report}");
    assert!(
        report.contains("NotARecipient: a read ack from a user who did not receive"),
        "{report}"
    );
    assert!(report.contains("members now"), "{report}");
    assert!(
        !report.contains("Some(") && !report.contains("None"),
        "{report}"
    );

    let export = stdout(&receipts(&["export", "--db", d]));
    let lines: Vec<serde_json::Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sent = lines.iter().find(|l| l["kind"] == "MessageSent").unwrap();
    let body = &sent["event"]["body"]["MessageSent"];
    assert_eq!(
        body["conversation"], sent["stream"],
        "one string form: {sent}"
    );
    assert!(sent["stream"].as_str().unwrap().contains(':'));

    let user = receipts(&["inspect", "--db", d, "--json", "user", "user0"]);
    let json: serde_json::Value = serde_json::from_slice(&user.stdout).unwrap();
    let first = &json["conversations"][0]["conversation"];
    assert!(
        first
            .as_str()
            .is_some_and(|c| c.starts_with("direct:") || c.starts_with("group:")),
        "{json}"
    );

    // A group message with acks (and not recalled since), seen by its sender: times as RFC
    // 3339, counts as numbers.
    let recalled: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["kind"] == "MessageRecalled")
        .map(|l| &l["event"]["body"]["MessageRecalled"]["message"])
        .collect();
    assert!(!recalled.is_empty(), "the demo's workload recalls messages");
    let acked = lines
        .iter()
        .find(|l| {
            l["kind"] == "GroupReadAcked"
                && !recalled.contains(&&l["event"]["body"]["GroupReadAcked"]["message"])
        })
        .unwrap();
    let id = acked["event"]["body"]["GroupReadAcked"]["message"]
        .as_str()
        .unwrap();
    let sender = lines
        .iter()
        .find(|l| l["kind"] == "MessageSent" && l["event"]["body"]["MessageSent"]["message"] == id)
        .map(|l| {
            l["event"]["body"]["MessageSent"]["sender"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .unwrap();
    let msg = stdout(&receipts(&[
        "inspect", "--db", d, "message", id, "--as", &sender,
    ]));
    assert!(msg.contains("has_read         yes"), "{msg}");
    assert!(
        msg.contains("n/a (group chats have no delivery receipts)"),
        "{msg}"
    );
    assert!(msg.contains(" at 2026-"), "reader times are dates: {msg}");
    assert!(
        !msg.contains("Some(") && !msg.contains("None") && !msg.contains(" ms"),
        "{msg}"
    );
}

#[test]
fn a_store_in_use_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    demo(&db);
    // This test process owns the store; the CLI is another process.
    let owner =
        receipt_store::SledLog::open_dir(&db, receipt_store::Durability::EveryAppend).unwrap();
    let start = std::time::Instant::now();
    let out = receipts(&["inspect", "--db", db.to_str().unwrap(), "user", "user0"]);
    let waited = start.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("is in use"), "{}", stderr(&out));
    assert!(waited < std::time::Duration::from_secs(3), "{waited:?}");
    drop(owner);
}

/// Runs `receipts exec` with `input` on standard input.
fn exec(db: &Path, extra: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_receipts"))
        .args(["exec", "--db", db.to_str().unwrap()])
        .args(extra)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run receipts exec");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn exec_runs_bulk_and_batch_commands_and_reports_each_refusal_on_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    let m = "0190a000-0000-7000-8000-000000000001";
    let input = [
        r#"{"CreateGroup":{"group":"team","owner":"ann","members":["bob","cat"]}}"#.to_string(),
        format!(r#"{{"SendMessage":{{"conversation":{{"Group":"team"}},"message":"{m}","sender":"ann","needs_group_ack":true}}}}"#),
        String::new(),
        format!(r#"{{"AckMessagesRead":{{"conversation":{{"Group":"team"}},"messages":["{m}","{m}"],"reader":"bob"}}}}"#),
        r#"{"RemoveMembers":{"group":"team","users":["zed"]}}"#.to_string(),
    ]
    .join("\n");
    let out = exec(&db, &["--receipts-on"], &input);
    assert_eq!(out.status.code(), Some(1), "one refusal: {}", stderr(&out));
    let answers: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 4, "{}", stdout(&out));
    assert_eq!(
        answers[0]["events"], 3,
        "owner and two members, one command"
    );
    assert_eq!(answers[2]["line"], 4);
    assert_eq!(answers[2]["events"], 1, "a repeated id acks once");
    assert_eq!(answers[3]["refused"], "NotAMember");
    assert!(
        stderr(&out).contains("1 command(s) refused"),
        "{}",
        stderr(&out)
    );
    let cat = receipts(&[
        "inspect",
        "--db",
        db.to_str().unwrap(),
        "--json",
        "user",
        "cat",
    ]);
    let value: serde_json::Value = serde_json::from_str(&stdout(&cat)).unwrap();
    assert_eq!(value["badge"], 1);
    let shown = receipts(&[
        "inspect",
        "--db",
        db.to_str().unwrap(),
        "message",
        m,
        "--as",
        "ann",
    ]);
    assert!(
        stdout(&shown).contains("reader bob") && stdout(&shown).contains("not read by cat"),
        "{}",
        stdout(&shown)
    );

    // A line that is not a command: exit 2, and nothing from it on runs.
    let out = exec(
        &db,
        &[],
        "{\"JoinGroup\":{\"group\":\"team\",\"user\":\"dan\",\"role\":\"Member\"}}\nnot json\n{\"JoinGroup\":{\"group\":\"team\",\"user\":\"eve\",\"role\":\"Member\"}}\n",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 2 is not a command"),
        "{}",
        stderr(&out)
    );
    let export = receipts(&["export", "--db", db.to_str().unwrap()]);
    let text = stdout(&export);
    assert!(
        text.contains("\"dan\"") && !text.contains("\"eve\""),
        "{text}"
    );
}
