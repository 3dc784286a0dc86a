//! `receipts --nats` on a tampered JetStream log: a deleted partition stream is refused by
//! every command (and never made again), and a garbage message is named by its stream
//! sequence, after which `salvage --into-prefix` gives a new log that answers as the log did.

#[path = "../../receipt-jetstream/tests/support/mod.rs"]
mod support;

use async_nats::jetstream;
use std::process::{Command, Output};

fn receipts(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_receipts"))
        .args(args)
        .output()
        .expect("the CLI runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The server's JetStream API on its own runtime, for the tampering.
fn raw<T>(url: &str, f: impl AsyncFnOnce(jetstream::Context) -> T) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let js = jetstream::new(async_nats::connect(url).await.unwrap());
        f(js).await
    })
}

fn demo(url: &str, prefix: &str) {
    let out = receipts(&[
        "--nats",
        url,
        "--nats-prefix",
        prefix,
        "demo",
        "--commands",
        "800",
        "--seed",
        "3",
    ]);
    assert!(out.status.success(), "{out:?}");
}

/// `inspect user` for a few of the demo's users, as JSON.
fn answers(url: &str, prefix: &str) -> Vec<String> {
    ["user0", "user1", "user5", "user9"]
        .iter()
        .map(|u| {
            let out = receipts(&[
                "--nats",
                url,
                "--nats-prefix",
                prefix,
                "--json",
                "inspect",
                "user",
                u,
            ]);
            assert!(out.status.success(), "{out:?}");
            text(&out.stdout)
        })
        .collect()
}

#[test]
fn a_deleted_partition_stream_stops_every_command_and_is_not_made_again() {
    let server = support::NatsServer::start();
    let url = server.url.as_str();
    demo(url, "d");
    raw(url, async |js| {
        assert!(js.delete_stream("d-p3").await.unwrap().success);
    });
    let command = r#"{"CreateGroup":{"group":"late","owner":"ann","members":["bob"]}}"#;
    let mut exec = Command::new(env!("CARGO_BIN_EXE_receipts"))
        .args(["--nats", url, "--nats-prefix", "d", "exec"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(exec.stdin.take().unwrap(), "{command}").unwrap();
    let exec = exec.wait_with_output().unwrap();
    for (what, out) in [
        ("exec", exec),
        (
            "inspect",
            receipts(&[
                "--nats",
                url,
                "--nats-prefix",
                "d",
                "inspect",
                "user",
                "user0",
            ]),
        ),
        (
            "verify",
            receipts(&["--nats", url, "--nats-prefix", "d", "verify"]),
        ),
        (
            "export",
            receipts(&["--nats", url, "--nats-prefix", "d", "export"]),
        ),
    ] {
        assert_eq!(out.status.code(), Some(1), "{what}: {out:?}");
        let said = text(&out.stderr);
        assert!(
            said.contains("partition 3's stream d-p3 is missing"),
            "{what}: {said}"
        );
        assert!(
            out.stdout.is_empty(),
            "{what} answered: {}",
            text(&out.stdout)
        );
    }
    let made_again = raw(url, async |js| js.get_stream("d-p3").await.is_ok());
    assert!(!made_again, "a command made the deleted stream again");
}

#[test]
fn a_garbage_message_is_named_by_its_sequence_and_salvage_gives_a_log_that_answers_the_same() {
    let server = support::NatsServer::start();
    let url = server.url.as_str();
    demo(url, "g");
    let before = answers(url, "g");
    // A message on a conversation's subject that is no record: after the last one of p1.
    let sequence = raw(url, async |js| {
        let stream = js.get_stream("g-p1").await.unwrap();
        let last = stream.get_info().await.unwrap().state.last_sequence;
        let subject = stream.get_raw_message(last).await.unwrap().subject;
        js.publish(subject.to_string(), "garbage".into())
            .await
            .unwrap()
            .await
            .unwrap()
            .sequence
    });
    for args in [
        vec!["inspect", "user", "user0"],
        vec!["verify"],
        vec!["export"],
    ] {
        let out = receipts(&[&["--nats", url, "--nats-prefix", "g"][..], &args].concat());
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        let said = text(&out.stderr);
        assert!(
            said.contains(&format!("partition 1, stream sequence {sequence}:")),
            "{args:?}: {said}"
        );
        assert!(said.contains("salvage --into-prefix"), "{said}");
    }
    let saved = receipts(&[
        "--nats",
        url,
        "--nats-prefix",
        "g",
        "salvage",
        "--into-prefix",
        "g2",
    ]);
    assert!(saved.status.success(), "{saved:?}");
    let said = text(&saved.stdout);
    let dropped: Vec<&str> = said.lines().filter(|l| l.starts_with("dropped")).collect();
    assert_eq!(dropped.len(), 1, "{said}");
    assert!(
        dropped[0].starts_with(&format!(
            "dropped partition 1, stream sequence {sequence}: "
        )),
        "{said}"
    );
    let verified = receipts(&["--nats", url, "--nats-prefix", "g2", "verify"]);
    assert!(verified.status.success(), "{verified:?}");
    assert_eq!(answers(url, "g2"), before);
    // Into a log that holds messages: refused, and nothing copied.
    let again = receipts(&[
        "--nats",
        url,
        "--nats-prefix",
        "g",
        "salvage",
        "--into-prefix",
        "g2",
    ]);
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(text(&again.stderr).contains("salvage needs an empty log"));
}
