//! One process owns a store at a time, and whoever asks while it is owned is told at once: a
//! second open in this process, or an open while another process has it, fails with `Locked`
//! in well under the wait reserved for a store this process has just closed.

use receipt_store::{Durability, SledLog, StoreError};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn open(dir: &std::path::Path) -> Result<SledLog, StoreError> {
    SledLog::open_dir(dir, Durability::EveryAppend)
}

#[test]
fn a_second_open_in_this_process_fails_at_once_and_a_close_frees_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path()).unwrap();
    let start = Instant::now();
    let second = open(dir.path());
    assert!(matches!(second, Err(StoreError::Locked(_))), "{second:?}");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    let message = second.err().unwrap().to_string();
    assert!(
        message.contains("already open in this process"),
        "{message}"
    );
    // The refused open changed nothing: the owner still works, and after it closes the store
    // opens again (waiting out sled's release of its lock if needed).
    assert_eq!(first.head(), 0);
    drop(first);
    let again = open(dir.path()).unwrap();
    assert_eq!(again.head(), 0);
}

#[test]
fn a_store_open_in_another_process_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_receipt-store-crash-child"))
        .arg(dir.path())
        .arg("7")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // The child owns the store once it acknowledges its first append.
    // The pipe stays open while the child is needed: a closed pipe would end it.
    let mut acks = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    acks.read_line(&mut line).unwrap();
    assert!(line.starts_with("ack "), "the child appended: {line:?}");
    let start = Instant::now();
    let refused = open(dir.path());
    let waited = start.elapsed();
    child.kill().unwrap();
    drop(acks);
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child ran until killed: {status}");
    assert!(matches!(refused, Err(StoreError::Locked(_))), "{refused:?}");
    assert!(waited < Duration::from_secs(1), "{waited:?}");
    let message = refused.err().unwrap().to_string();
    assert!(message.contains("another process"), "{message}");
    // The lock dies with its process.
    assert!(open(dir.path()).is_ok());
}

#[test]
fn the_same_store_through_a_symbolic_link_is_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    // Opened first through the link, before the store's directory exists.
    let first = open(&link.join("store")).unwrap();
    let start = Instant::now();
    let second = open(&real.join("store"));
    assert!(start.elapsed() < Duration::from_secs(1));
    match second {
        Err(StoreError::Locked(who)) => {
            assert!(who.contains("already open in this process"), "{who}")
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(first);
    // Closed a moment ago through the link: the real path waits out sled's release.
    assert!(open(&real.join("store")).is_ok());
}

/// sled's background threads may hold its lock a moment after its last handle is dropped; a
/// close waits for them, so another process (here: a lock probe on a handle of our own, which
/// conflicts with sled's exactly as another process's would) finds the store free at once.
#[test]
fn a_closed_store_is_free_for_another_process_as_soon_as_the_close_returns() {
    for round in 0..30u128 {
        let dir = tempfile::tempdir().unwrap();
        {
            // Buffered: sled's flusher and IO threads have work in flight when the log drops.
            let log = SledLog::open_dir(dir.path(), Durability::Buffered).unwrap();
            let ann = receipt_domain::UserId::new("ann").unwrap();
            let chat = receipt_domain::ConversationId::direct(
                ann.clone(),
                receipt_domain::UserId::new("bob").unwrap(),
            )
            .unwrap();
            for n in 0..300u128 {
                let id = round << 32 | n;
                let event = receipt_domain::Event {
                    id: receipt_domain::EventId(uuid::Uuid::from_u128(id + 1)),
                    at_ms: 1,
                    body: receipt_domain::EventBody::MessageSent {
                        conversation: chat.clone(),
                        message: receipt_domain::MessageId(uuid::Uuid::from_u128(id + 1)),
                        sender: ann.clone(),
                        group_ack: receipt_domain::GroupAck::NotRequested,
                    },
                };
                log.append(receipt_store::AppendRequest {
                    conversation: chat.clone(),
                    expected_version: n as u64,
                    events: vec![event],
                })
                .unwrap();
            }
        }
        let db = std::fs::File::open(dir.path().join("db")).unwrap();
        assert!(
            db.try_lock().is_ok(),
            "round {round}: sled still held its lock after the close returned"
        );
        db.unlock().unwrap();
    }
}
