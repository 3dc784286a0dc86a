//! `Engine::close` says whether the engine was put away: a healthy close checkpoints (the next
//! open has no tail to fold) and returns `Ok`; a close whose checkpoint cannot be written
//! returns that failure instead of logging it; a stopped engine says why it stopped.

use receipt_engine::*;
use std::sync::atomic::Ordering;
use std::sync::Arc;

fn chat() -> (UserId, UserId, ConversationId) {
    let (ann, bob) = (UserId::new("ann").unwrap(), UserId::new("bob").unwrap());
    let chat = ConversationId::direct(ann.clone(), bob.clone()).unwrap();
    (ann, bob, chat)
}

/// An engine over a backend whose faults the test switches, with one message sent.
fn engine_with_faults() -> (
    Arc<store::Faults>,
    Engine<store::FaultyBackend>,
    UserId,
    ConversationId,
) {
    let faults = Arc::new(store::Faults::default());
    let backend = store::FaultyBackend::new(faults.clone());
    let log = store::EventLog::open(backend, Durability::EveryAppend).unwrap();
    let engine = Engine::over(log, EngineOptions::default()).unwrap();
    let (ann, _, chat) = chat();
    engine
        .send_message(&chat, MessageId(uuid::Uuid::now_v7()), &ann)
        .unwrap();
    (faults, engine, ann, chat)
}

#[test]
fn a_healthy_close_checkpoints_everything_and_says_ok() {
    let dir = tempfile::tempdir().unwrap();
    let (ann, bob, chat) = chat();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    for _ in 0..5 {
        engine
            .send_message(&chat, MessageId(uuid::Uuid::now_v7()), &ann)
            .unwrap();
    }
    let head = engine.head();
    engine.close().unwrap();
    let log = store::SledLog::open_dir_read_only(dir.path(), None).unwrap();
    assert_eq!(log.checkpoint_marker().unwrap().unwrap(), Some(head));
    drop(log);
    let reopened = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    assert_eq!(reopened.unread_count(&bob, &chat).unwrap(), 5);
}

#[test]
fn a_close_whose_checkpoint_fails_returns_the_failure() {
    let (faults, engine, _, _) = engine_with_faults();
    faults.fail_checkpoints.store(true, Ordering::SeqCst);
    let closed = engine.close();
    assert!(
        matches!(
            closed,
            Err(EngineError::Store(store::StoreError::Io { .. }))
        ),
        "{closed:?}"
    );
}

#[test]
fn closing_a_stopped_engine_says_why_it_stopped() {
    let (faults, engine, ann, chat) = engine_with_faults();
    faults.fail_writes.store(true, Ordering::SeqCst);
    // A batch whose write fails stops the engine (tests/engine_batch.rs).
    let send = || Command {
        id: CommandId(uuid::Uuid::now_v7()),
        at_ms: 1,
        kind: CommandKind::SendMessage {
            conversation: chat.clone(),
            message: MessageId(uuid::Uuid::now_v7()),
            sender: ann.clone(),
            needs_group_ack: false,
        },
    };
    let batch = vec![send(), send()];
    let _ = engine.execute_batch(batch);
    assert!(
        engine.stopped().is_some(),
        "the failed batch stopped the engine"
    );
    let closed = engine.close();
    assert!(matches!(closed, Err(EngineError::Stopped(_))), "{closed:?}");
}
