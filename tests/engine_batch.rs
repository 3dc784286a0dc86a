//! `Engine::execute_batch`: many commands, one append and one durable commit, with the answers
//! one-by-one execution would give.

mod support;

use receipt_engine::*;
use receipt_workload::{Workload, WorkloadConfig};

fn options(config: &WorkloadConfig) -> EngineOptions {
    EngineOptions::default()
        .with_policy(config.policy())
        .with_durability(Durability::EveryAppend)
}

/// Ok(events) or Err(kind): what a caller sees of an answer.
fn seen(r: &Result<Outcome, EngineError>) -> Result<(Vec<Event>, Option<Note>, bool), String> {
    r.as_ref()
        .map(|o| (o.events.clone(), o.note, o.repeated))
        .map_err(|e| e.kind().to_string())
}

fn events_of<B: receipt_engine::store::Backend>(engine: &Engine<B>) -> Vec<Event> {
    let mut events = Vec::new();
    engine.log().replay(0, |e| events.push(e.event)).unwrap();
    events
}

#[test]
fn a_batch_answers_and_folds_like_one_command_at_a_time_with_one_commit_per_batch() {
    let config = WorkloadConfig::sized(3_000, 5);
    let commands: Vec<Command> = Workload::new(config.clone()).collect();
    let dir = tempfile::tempdir().unwrap();
    let one = Engine::open(dir.path().join("one"), options(&config)).unwrap();
    let many = Engine::open(dir.path().join("many"), options(&config)).unwrap();
    let (_, mut live) = many.subscribe(1 << 20);

    let singles: Vec<_> = commands
        .iter()
        .map(|c| one.execute_command(c.clone()))
        .collect();
    let before = many.log().syncs();
    let mut batched = Vec::new();
    let mut batches = 0u64;
    for chunk in commands.chunks(97) {
        batched.extend(many.execute_batch(chunk.to_vec()).unwrap());
        batches += 1;
    }
    let after = many.log().syncs();

    assert_eq!(batched.len(), singles.len());
    let rejected = singles.iter().filter(|r| r.is_err()).count();
    assert!(rejected > 0, "the workload exercises rejections");
    for (i, (a, b)) in singles.iter().zip(&batched).enumerate() {
        assert_eq!(seen(a), seen(b), "command {i}: {:?}", commands[i].kind);
        if let (Ok(a), Ok(b)) = (a, b) {
            assert_eq!(a.notifications, b.notifications, "command {i}");
            assert_eq!(a.first_position, b.first_position, "command {i}");
        }
    }
    assert_eq!(one.head(), many.head());
    // One commit per batch: sled's flush and the ledger's fdatasync once each.
    assert_eq!(after.flushes_started - before.flushes_started, batches);
    assert_eq!(after.ledger_syncs - before.ledger_syncs, batches);

    // Published once durable, in log order, exactly the outcomes' notifications.
    let published: Vec<Positioned> = live
        .try_iter()
        .map(|n| n.expect("the subscriber kept up"))
        .collect();
    assert!(published.windows(2).all(|w| w[0].position <= w[1].position));
    let from_outcomes: Vec<Notification> = batched
        .iter()
        .flatten()
        .flat_map(|o| o.notifications.clone())
        .collect();
    let notified: Vec<Notification> = published.into_iter().map(|p| p.notification).collect();
    assert_eq!(notified, from_outcomes);

    // Both logs hold the same events, and each engine answers like a cold fold of them.
    let (one_events, many_events) = (events_of(&one), events_of(&many));
    assert_eq!(one_events, many_events);
    support::assert_equals_cold_fold(&one, &one_events, "one by one");
    support::assert_equals_cold_fold(&many, &one_events, "batched");
    drop(many);
    let reopened = Engine::open(dir.path().join("many"), options(&config)).unwrap();
    support::assert_equals_cold_fold(&reopened, &one_events, "batched, reopened");

    // The whole batch again: every accepted command is a repeat, nothing is appended.
    let head = reopened.head();
    let again = reopened.execute_batch(commands[..200].to_vec()).unwrap();
    for (first, second) in batched[..200].iter().zip(&again) {
        if let Ok(first) = first {
            let second = second.as_ref().unwrap();
            assert!(second.repeated);
            assert_eq!(second.events, first.events);
            assert_eq!(second.first_position, first.first_position);
            assert!(second.notifications.is_empty());
        }
    }
    assert_eq!(reopened.head(), head);
}

#[test]
fn inside_a_batch_a_repeated_id_is_a_repeat_and_a_rejection_records_nothing() {
    let engine =
        Engine::in_memory(EngineOptions::default().with_policy(Policy::all_receipts_on())).unwrap();
    let (ann, bob) = (UserId::new("ann").unwrap(), UserId::new("bob").unwrap());
    let chat = ConversationId::direct(ann.clone(), bob.clone()).unwrap();
    let m = MessageId(uuid::Uuid::from_u128(7));
    let command = |n: u128, kind| Command {
        id: CommandId(uuid::Uuid::from_u128(n)),
        at_ms: 1,
        kind,
    };
    let ack = CommandKind::AckMessageRead {
        message: m,
        reader: bob.clone(),
    };
    let send = CommandKind::SendMessage {
        conversation: chat.clone(),
        message: m,
        sender: ann.clone(),
        needs_group_ack: false,
    };
    // Sequential ids, as a client numbering its commands would use.
    let answers = engine
        .execute_batch(vec![
            command(1, ack.clone()),
            command(2, send.clone()),
            command(2, send),
            command(3, ack),
        ])
        .unwrap();
    assert!(matches!(
        answers[0],
        Err(EngineError::Rejected(DomainError::UnknownMessage(_)))
    ));
    let sent = answers[1].as_ref().unwrap();
    assert!(!sent.repeated);
    let repeat = answers[2].as_ref().unwrap();
    assert!(repeat.repeated);
    assert_eq!(repeat.events, sent.events);
    assert_eq!(repeat.first_position, Some(0));
    assert_eq!(answers[3].as_ref().unwrap().first_position, Some(1));
    assert_eq!(engine.head(), 2, "the send once and the ack: nothing else");
    assert_eq!(engine.unread_count(&bob, &chat).unwrap(), 0);
}

/// Writes fail once `fail_writes` is set (reads still work).
#[test]
fn a_batch_whose_write_fails_stops_the_engine_and_records_none_of_its_no_ops() {
    let faults = std::sync::Arc::new(receipt_engine::store::Faults::default());
    let backend = receipt_engine::store::FaultyBackend::new(faults.clone());
    let log = receipt_engine::store::EventLog::open(backend, Durability::EveryAppend).unwrap();
    let engine = Engine::over(log, EngineOptions::default()).unwrap();
    let (ann, bob) = (UserId::new("ann").unwrap(), UserId::new("bob").unwrap());
    let chat = ConversationId::direct(ann.clone(), bob.clone()).unwrap();
    let command = |n: u128, kind| Command {
        id: CommandId(uuid::Uuid::from_u128(n)),
        at_ms: 1,
        kind,
    };
    let send = |n: u128| {
        command(
            n,
            CommandKind::SendMessage {
                conversation: chat.clone(),
                message: MessageId(uuid::Uuid::from_u128(1_000 + n)),
                sender: ann.clone(),
                needs_group_ack: false,
            },
        )
    };
    engine.execute_command(send(1)).unwrap();
    faults
        .fail_writes
        .store(true, std::sync::atomic::Ordering::SeqCst);
    // A send (events) and a mark-read of the whole chat (events) then again (a no-op).
    let read_all = |n| {
        command(
            n,
            CommandKind::MarkConversationRead {
                conversation: chat.clone(),
                reader: bob.clone(),
            },
        )
    };
    let failed = engine.execute_batch(vec![send(2), read_all(3), read_all(4)]);
    assert!(matches!(failed, Err(EngineError::Stopped(_))), "{failed:?}");
    assert!(matches!(
        engine.execute_command(send(5)),
        Err(EngineError::Stopped(_))
    ));
    // The log holds only the first send: no event of the batch, and not its no-op record.
    assert_eq!(engine.log().head(), 1);
    assert!(engine
        .log()
        .find_command(CommandId(uuid::Uuid::from_u128(4)))
        .unwrap()
        .is_none());
}
