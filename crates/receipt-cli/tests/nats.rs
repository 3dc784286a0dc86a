//! `receipts --nats URL ...` against a JetStream log on a real server (started by the test, as
//! the JetStream crate's tests do): `verify` and `export` read it; `demo`, `inspect` and `exec`
//! run the Engine on it and answer as on sled.

#[path = "../../receipt-jetstream/tests/support/mod.rs"]
mod support;

use receipt_engine::*;
use receipt_jetstream::{JetStreamLog, JetStreamOptions};
use std::process::Command;

fn receipts(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_receipts"))
        .args(args)
        .output()
        .expect("the CLI runs")
}

#[test]
fn verify_and_export_read_a_jetstream_log() {
    let server = support::NatsServer::start();
    let log = JetStreamLog::connect(&JetStreamOptions::new(server.url.clone()).with_partitions(2))
        .unwrap();
    let mut ids = Vec::new();
    for (i, g) in ["a", "b.c", "d*>"].iter().enumerate() {
        let group = GroupId::new(*g).unwrap();
        let events: Vec<Event> = (0..=i)
            .map(|k| {
                let id = EventId(uuid::Uuid::from_u128((i * 10 + k) as u128 + 1));
                ids.push(id.0.to_string());
                Event {
                    id,
                    at_ms: 1_000,
                    body: EventBody::MemberJoined {
                        group: group.clone(),
                        user: UserId::new(format!("u{k}")).unwrap(),
                        role: Role::Member,
                    },
                }
            })
            .collect();
        log.append(&ConversationId::Group(group), 0, &events)
            .unwrap();
    }
    let verified = receipts(&["--nats", &server.url, "verify"]);
    assert!(verified.status.success(), "{verified:?}");
    let said = String::from_utf8(verified.stdout).unwrap();
    assert!(
        said.starts_with("ok: 6 events in 3 decisions over 2 partitions"),
        "{said}"
    );
    let exported = receipts(&["--nats", &server.url, "export"]);
    assert!(exported.status.success(), "{exported:?}");
    let lines: Vec<serde_json::Value> = String::from_utf8(exported.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut got: Vec<String> = lines
        .iter()
        .map(|l| l["event"]["id"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids, "every event once");
    assert!(lines
        .iter()
        .all(|l| l["kind"] == "MemberJoined" && l["version"].as_u64() >= Some(1)));
    // Nothing there: not found (3), and nothing created.
    let missing = receipts(&["--nats", &server.url, "--nats-prefix", "other", "verify"]);
    assert_eq!(missing.status.code(), Some(3), "{missing:?}");
    let again = receipts(&["--nats", &server.url, "--nats-prefix", "other", "verify"]);
    assert_eq!(again.status.code(), Some(3), "verify created nothing");
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The demo's report without what depends on where it ran and how fast.
fn report(out: &std::process::Output) -> Vec<String> {
    stdout(out)
        .lines()
        .filter(|l| {
            !(l.starts_with("receipts demo into")
                || l.starts_with("wrote ")
                || l.starts_with("store:")
                || l.starts_with("log:"))
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn demo_inspect_and_exec_run_the_engine_on_jetstream_as_on_sled() {
    let server = support::NatsServer::start();
    let url = server.url.as_str();
    let args = ["--commands", "3000", "--seed", "5"];
    let on_js = receipts(&[&["--nats", url, "--nats-prefix", "d", "demo"][..], &args].concat());
    assert!(on_js.status.success(), "{on_js:?}");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    let on_sled = receipts(&[&["--db", db.to_str().unwrap(), "demo"][..], &args].concat());
    assert!(on_sled.status.success(), "{on_sled:?}");
    // The same workload gives the same report: counts, refusals, badges, acks.
    let (js_report, sled_report) = (report(&on_js), report(&on_sled));
    assert!(js_report.len() > 8, "{js_report:?}");
    assert_eq!(js_report, sled_report);
    let events = |out: &std::process::Output| -> String {
        let text = stdout(out);
        let wrote = text.lines().find(|l| l.starts_with("wrote ")).unwrap();
        // Printed with thousands separators.
        wrote.split(' ').nth(1).unwrap().replace(',', "")
    };
    assert_eq!(events(&on_js), events(&on_sled));
    let verified = receipts(&["--nats", url, "--nats-prefix", "d", "verify"]);
    assert!(verified.status.success(), "{verified:?}");
    let said = stdout(&verified);
    let counted = said.trim_start_matches("ok: ").split(' ').next().unwrap();
    assert_eq!(counted.replace(',', ""), events(&on_js), "{said}");
    // Not twice into one log: it is never deleted by the tool.
    let again = receipts(&[&["--nats", url, "--nats-prefix", "d", "demo"][..], &args].concat());
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stderr).contains("choose another --nats-prefix"));
    let reset = receipts(&["--nats", url, "--nats-prefix", "d", "demo", "--reset"]);
    assert_eq!(reset.status.code(), Some(2), "{reset:?}");

    // inspect answers from a replay, as the sled store answers.
    for user in ["user0", "user1", "user17"] {
        let js = receipts(&[
            "--nats",
            url,
            "--nats-prefix",
            "d",
            "--json",
            "inspect",
            "user",
            user,
        ]);
        let sled = receipts(&[
            "--db",
            db.to_str().unwrap(),
            "--json",
            "inspect",
            "user",
            user,
        ]);
        assert_eq!(js.status.code(), sled.status.code(), "{js:?}");
        assert_eq!(stdout(&js), stdout(&sled));
    }
    let missing = receipts(&[
        "--nats",
        url,
        "--nats-prefix",
        "none",
        "inspect",
        "user",
        "u",
    ]);
    assert_eq!(missing.status.code(), Some(3), "{missing:?}");

    // exec: commands as JSON lines, one answer each.
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_receipts"))
        .args(["--nats", url, "--nats-prefix", "e", "exec", "--receipts-on"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let m = "0190a000-0000-7000-8000-000000000001";
    let input = [
        r#"{"CreateGroup":{"group":"team","owner":"ann","members":["bob","cat"]}}"#.to_string(),
        format!(r#"{{"SendMessage":{{"conversation":{{"Group":"team"}},"message":"{m}","sender":"ann","needs_group_ack":true}}}}"#),
        format!(r#"{{"AckGroupMessageRead":{{"message":"{m}","reader":"bob"}}}}"#),
    ]
    .join("\n");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let answers: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 3);
    assert!(
        answers.iter().all(|a| a["events"].as_u64() >= Some(1)),
        "{answers:?}"
    );
    let verified = receipts(&["--nats", url, "--nats-prefix", "e", "verify"]);
    assert!(stdout(&verified).starts_with("ok: "), "{verified:?}");
}
