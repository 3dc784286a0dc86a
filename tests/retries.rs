//! Idempotency by command id: a retried command gets its original outcome and changes nothing,
//! however much happened since, in the same process and after a restart.

use receipt_engine::*;
use std::sync::Arc;
use uuid::Uuid;

fn id(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

fn command(n: u128, at_ms: u64, kind: CommandKind) -> Command {
    Command {
        id: CommandId(Uuid::from_u128(n)),
        at_ms,
        kind,
    }
}

struct Chat {
    alice: UserId,
    bob: UserId,
    chat: ConversationId,
}

fn chat() -> Chat {
    let (alice, bob) = (id("alice"), id("bob"));
    let chat = ConversationId::direct(alice.clone(), bob.clone()).unwrap();
    Chat { alice, bob, chat }
}

fn send(c: &Chat, command_id: u128, message: u128) -> Command {
    command(
        command_id,
        1_000,
        CommandKind::SendMessage {
            conversation: c.chat.clone(),
            message: MessageId(Uuid::from_u128(message)),
            sender: c.alice.clone(),
            needs_group_ack: false,
        },
    )
}

fn bob_reads_chat(c: &Chat, command_id: u128) -> Command {
    command(
        command_id,
        2_000,
        CommandKind::AckConversationRead {
            conversation: c.chat.clone(),
            reader: c.bob.clone(),
        },
    )
}

fn options() -> EngineOptions {
    EngineOptions::default()
        .with_policy(Policy::all_receipts_on())
        .with_clock(Arc::new(ManualClock::new(3_000)))
}

#[test]
fn a_late_retry_of_a_conversation_ack_does_not_read_a_newer_message() {
    let c = chat();
    let engine = Engine::in_memory(options()).unwrap();
    engine.execute_command(send(&c, 1, 101)).unwrap();
    let first = engine.execute_command(bob_reads_chat(&c, 2)).unwrap();
    assert_eq!(first.events.len(), 1);
    assert!(!first.repeated);
    engine.execute_command(send(&c, 3, 102)).unwrap(); // m2 arrives after the ack
    assert_eq!(engine.unread_count(&c.bob, &c.chat).unwrap(), 1);
    let head = engine.head();

    let retry = engine.execute_command(bob_reads_chat(&c, 2)).unwrap();
    assert!(retry.repeated, "the retry is recognised by its command id");
    assert_eq!(retry.events, first.events, "the original events");
    assert_eq!(retry.first_position, first.first_position);
    assert_eq!(retry.note, first.note);
    assert!(retry.notifications.is_empty(), "nobody is notified twice");
    assert_eq!(engine.head(), head, "nothing appended");
    assert_eq!(
        engine.unread_count(&c.bob, &c.chat).unwrap(),
        1,
        "bob never saw m2: it stays unread"
    );
}

#[test]
fn a_retried_no_op_stays_a_no_op_after_later_events() {
    let c = chat();
    let engine = Engine::in_memory(options()).unwrap();
    // Bob marks an empty-for-him chat read: nothing to record.
    engine.execute_command(send(&c, 1, 101)).unwrap();
    engine.execute_command(bob_reads_chat(&c, 2)).unwrap();
    let noop = engine.execute_command(bob_reads_chat(&c, 3)).unwrap();
    assert_eq!(noop.note, Some(Note::AlreadyDone));
    assert!(noop.events.is_empty());
    engine.execute_command(send(&c, 4, 102)).unwrap();
    let head = engine.head();
    let retry = engine.execute_command(bob_reads_chat(&c, 3)).unwrap();
    assert!(retry.repeated);
    assert_eq!(retry.note, Some(Note::AlreadyDone));
    assert!(retry.events.is_empty());
    assert_eq!(engine.head(), head);
    assert_eq!(engine.unread_count(&c.bob, &c.chat).unwrap(), 1);
}

#[test]
fn retries_are_recognised_after_a_restart() {
    let c = chat();
    let dir = tempfile::tempdir().unwrap();
    let (first, noop) = {
        let engine = Engine::open(dir.path(), options()).unwrap();
        engine.execute_command(send(&c, 1, 101)).unwrap();
        let first = engine.execute_command(bob_reads_chat(&c, 2)).unwrap();
        let noop = engine.execute_command(bob_reads_chat(&c, 3)).unwrap();
        engine.execute_command(send(&c, 4, 102)).unwrap();
        (first, noop)
    };
    let engine = Engine::open(dir.path(), options()).unwrap();
    let head = engine.head();
    let retry = engine.execute_command(bob_reads_chat(&c, 2)).unwrap();
    assert!(retry.repeated);
    assert_eq!(
        (retry.events, retry.first_position),
        (first.events, first.first_position)
    );
    let retry_noop = engine.execute_command(bob_reads_chat(&c, 3)).unwrap();
    assert!(retry_noop.repeated);
    assert_eq!(retry_noop.note, noop.note);
    // The send retried too: same message, same position, no second copy.
    let resend = engine.execute_command(send(&c, 1, 101)).unwrap();
    assert!(resend.repeated);
    assert_eq!(resend.first_position, Some(0));
    assert_eq!(engine.head(), head, "no retry appended anything");
    assert_eq!(engine.unread_count(&c.bob, &c.chat).unwrap(), 1);
}

#[test]
fn a_rejected_command_is_not_recorded_and_can_succeed_when_retried() {
    let c = chat();
    let engine = Engine::in_memory(options()).unwrap();
    let deliver = command(
        5,
        2_000,
        CommandKind::Deliver {
            message: MessageId(Uuid::from_u128(101)),
            recipient: c.bob.clone(),
        },
    );
    let rejected = engine.execute_command(deliver.clone()).unwrap_err();
    assert!(matches!(
        rejected,
        EngineError::Rejected(DomainError::UnknownMessage(_))
    ));
    assert_eq!(rejected.kind(), "UnknownMessage");
    engine.execute_command(send(&c, 1, 101)).unwrap();
    let delivered = engine.execute_command(deliver).unwrap();
    assert!(!delivered.repeated);
    assert_eq!(delivered.events.len(), 1);
}

#[test]
fn the_log_refuses_a_stale_retry_as_a_new_append() {
    // Below the engine: the same event ids appended again at the current version are the
    // stored decision, not a second copy.
    let c = chat();
    let log = receipt_engine::store::MemoryLog::in_memory();
    let events = |n: u128| {
        let decision = domain::decide(
            &State::new(),
            &Policy::all_receipts_on(),
            &send(&c, n, n + 100),
        )
        .unwrap();
        decision.events
    };
    let req = |version: u64, n: u128| receipt_engine::store::AppendRequest {
        conversation: c.chat.clone(),
        expected_version: version,
        events: events(n),
    };
    let first = log.append(req(0, 1)).unwrap();
    log.append(req(1, 2)).unwrap();
    let again = log.append(req(2, 1)).unwrap();
    assert!(again.duplicate);
    assert_eq!(again.first_position, first.first_position);
    assert_eq!(again.version, 1);
    assert_eq!(log.head(), 2);
}

#[test]
fn an_engine_debug_prints_where_it_is_not_what_it_holds() {
    let engine = Engine::in_memory(options()).unwrap();
    engine.execute_command(send(&chat(), 1, 101)).unwrap();
    let text = format!("{engine:?}");
    assert!(
        text.contains("head: 1") && text.contains("store: \"memory\""),
        "{text}"
    );
}
