//! `receipts --nats URL verify | export` against a JetStream log on a real server (started by
//! the test, as the JetStream crate's tests do).

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
    // What needs the Engine on JetStream says so (usage, 2).
    let demo = receipts(&["--nats", &server.url, "demo"]);
    assert_eq!(demo.status.code(), Some(2), "{demo:?}");
    assert!(String::from_utf8_lossy(&demo.stderr).contains("only verify and export"));
}
