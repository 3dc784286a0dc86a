//! Commands on different conversations run at once: one stalled conversation does not stop
//! another, or a checkpoint; two sends of one message id to two conversations at the same time
//! accept exactly one; many threads over shared conversations, with background checkpoints and
//! a budget that evicts constantly, leave a log whose every acknowledged event is stored once
//! and projections equal to a cold fold, before and after a reopen.

mod support;

use receipt_engine::store::{EventLog, Faults, FaultyBackend};
use receipt_engine::*;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};
use uuid::Uuid;

fn id(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

fn send(n: u128, chat: &ConversationId, sender: &UserId) -> Command {
    Command {
        id: CommandId(Uuid::from_u128(n)),
        at_ms: 1_000,
        kind: CommandKind::SendMessage {
            conversation: chat.clone(),
            message: MessageId(Uuid::from_u128(1_000_000 + n)),
            sender: sender.clone(),
            needs_group_ack: false,
        },
    }
}

/// Runs `command` on another thread; its answer arrives on the receiver.
fn spawn_command<B: store::Backend>(
    engine: &Arc<Engine<B>>,
    command: Command,
) -> mpsc::Receiver<Result<Outcome, EngineError>> {
    let (tx, rx) = mpsc::channel();
    let engine = engine.clone();
    std::thread::spawn(move || {
        let _ = tx.send(engine.execute_command(command));
    });
    rx
}

#[test]
fn a_command_stalled_in_one_conversation_holds_up_that_conversation_only() {
    let faults = Arc::new(Faults::default());
    let log = EventLog::open(FaultyBackend::new(faults.clone()), Durability::EveryAppend).unwrap();
    let engine = Arc::new(Engine::over(log, EngineOptions::default()).unwrap());
    let (ann, bob, cat, dan) = (id("ann"), id("bob"), id("cat"), id("dan"));
    let a = ConversationId::direct(ann.clone(), bob.clone()).unwrap();
    let b = ConversationId::direct(cat.clone(), dan.clone()).unwrap();

    // The first command's duplicate check (a read of its id) stalls, holding its conversation.
    let stalled = send(1, &a, &ann);
    *faults.hold_key_part.lock().unwrap() = stalled.id.0.as_bytes().to_vec();
    faults.hold.store(true, Ordering::SeqCst);
    let first = spawn_command(&engine, stalled);
    let started = Instant::now();
    while faults.held_gets.load(Ordering::SeqCst) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the first command never reached its read"
        );
        std::thread::sleep(Duration::from_millis(1));
    }

    // Another conversation proceeds, and so does a checkpoint.
    let other = spawn_command(&engine, send(2, &b, &cat));
    let answer = other
        .recv_timeout(Duration::from_secs(10))
        .expect("a command on another conversation waited for the stalled one");
    assert_eq!(answer.unwrap().events.len(), 1);
    engine.checkpoint().unwrap();
    assert_eq!(engine.unread_count(&dan, &b).unwrap(), 1);

    // The same conversation waits for it.
    let same = spawn_command(&engine, send(3, &a, &bob));
    assert!(
        same.recv_timeout(Duration::from_millis(300)).is_err(),
        "a second command on the stalled conversation did not wait for the first"
    );
    faults.hold.store(false, Ordering::SeqCst);
    let first = first
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    let same = same.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    // The conversation's lock ordered them: the stalled command's event comes first.
    assert!(first.first_position < same.first_position);
    assert_eq!(engine.unread_count(&bob, &a).unwrap(), 1);
    assert_eq!(engine.unread_count(&ann, &a).unwrap(), 1);
    let mut events = Vec::new();
    engine.log().replay(0, |e| events.push(e.event)).unwrap();
    assert_eq!(events.len(), 3);
    support::assert_equals_cold_fold(&*engine, &events, "after the stall");
}

#[test]
fn two_sends_of_one_message_id_to_two_conversations_at_once_accept_exactly_one() {
    let engine = Arc::new(Engine::in_memory(EngineOptions::default()).unwrap());
    let (ann, bob, cat) = (id("ann"), id("bob"), id("cat"));
    let chats = [
        ConversationId::direct(ann.clone(), bob.clone()).unwrap(),
        ConversationId::direct(ann.clone(), cat.clone()).unwrap(),
    ];
    let rounds: u128 = 300;
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = chats
        .iter()
        .enumerate()
        .map(|(t, chat)| {
            let (engine, barrier, chat, ann) =
                (engine.clone(), barrier.clone(), chat.clone(), ann.clone());
            std::thread::spawn(move || {
                let mut won = Vec::new();
                for round in 0..rounds {
                    let command = Command {
                        id: CommandId(Uuid::from_u128((t as u128 + 1) << 64 | round)),
                        at_ms: 1_000,
                        kind: CommandKind::SendMessage {
                            conversation: chat.clone(),
                            message: MessageId(Uuid::from_u128(round + 1)),
                            sender: ann.clone(),
                            needs_group_ack: false,
                        },
                    };
                    barrier.wait();
                    match engine.execute_command(command) {
                        Ok(o) => {
                            assert_eq!(o.events.len(), 1);
                            won.push(round);
                        }
                        Err(EngineError::Rejected(DomainError::MessageIdInUse(m))) => {
                            assert_eq!(m, MessageId(Uuid::from_u128(round + 1)));
                        }
                        Err(e) => panic!("round {round}: {e}"),
                    }
                }
                won
            })
        })
        .collect();
    let won: Vec<Vec<u128>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    for round in 0..rounds {
        let winners: Vec<usize> = (0..2).filter(|&t| won[t].contains(&round)).collect();
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let message = MessageId(Uuid::from_u128(round + 1));
        assert_eq!(
            engine.log().message_conversation(message).unwrap(),
            Some(chats[winners[0]].clone()),
            "round {round}: the index names the winner's conversation"
        );
    }
    let mut events = Vec::new();
    engine.log().replay(0, |e| events.push(e.event)).unwrap();
    assert_eq!(events.len() as u128, rounds);
    support::assert_equals_cold_fold(&*engine, &events, "after the races");
}

#[test]
fn threads_on_shared_conversations_with_checkpoints_and_evictions_equal_a_cold_fold() {
    let dir = tempfile::tempdir().unwrap();
    let options = || {
        EngineOptions::default()
            .with_policy(Policy::all_receipts_on())
            .with_checkpoint_every(Some(25))
            .with_memory_budget(1)
    };
    let users: Vec<UserId> = (0..6).map(|u| id(&format!("u{u}"))).collect();
    let team = GroupId::new("team").unwrap();
    let acknowledged: Vec<EventId> = {
        let engine = Arc::new(Engine::open(dir.path(), options()).unwrap());
        engine.join_group(&team, &users[0], Role::Owner).unwrap();
        for u in &users[1..] {
            engine.join_group(&team, u, Role::Member).unwrap();
        }
        let threads: Vec<_> = (0..4u128)
            .map(|t| {
                let (engine, users, team) = (engine.clone(), users.clone(), team.clone());
                std::thread::spawn(move || {
                    let mut acked = Vec::new();
                    let me = &users[t as usize];
                    let mut sent = Vec::new();
                    for n in 0..120u128 {
                        // Direct chats shared by pairs of threads, and the group all share.
                        let peer = &users[((t + 1 + n % 3) % 6) as usize];
                        let chat = match n % 4 {
                            0 => ConversationId::Group(team.clone()),
                            _ => ConversationId::direct(me.clone(), peer.clone()).unwrap(),
                        };
                        let m = MessageId(Uuid::from_u128((t + 1) << 32 | n));
                        let outcome = match n % 5 {
                            4 => engine.mark_conversation_read(&chat, me),
                            3 if !sent.is_empty() => {
                                // A read of a message another thread may have sent to us.
                                let (theirs, _): &(MessageId, ConversationId) =
                                    &sent[(n as usize * 7) % sent.len()];
                                engine.ack_message_read(*theirs, peer)
                            }
                            _ => {
                                let o = engine.send_message(&chat, m, me);
                                sent.push((m, chat.clone()));
                                o
                            }
                        };
                        match outcome {
                            Ok(o) => acked.extend(o.events.iter().map(|e| e.id)),
                            Err(EngineError::Rejected(_)) => {}
                            Err(e) => panic!("thread {t}: {e}"),
                        }
                        let _ = engine.total_unread(peer).unwrap();
                    }
                    acked
                })
            })
            .collect();
        let mut acknowledged = Vec::new();
        for t in threads {
            acknowledged.extend(t.join().unwrap());
        }
        let stats = engine.cache_stats();
        assert!(stats.checkpoints > 0 && stats.evictions > 0, "{stats:?}");
        let mut events = Vec::new();
        engine.log().replay(0, |e| events.push(e.event)).unwrap();
        support::assert_equals_cold_fold(&*engine, &events, "after the threads");
        acknowledged
    };
    let engine = Engine::open(dir.path(), options()).unwrap();
    let mut events = Vec::new();
    engine.log().replay(0, |e| events.push(e.event)).unwrap();
    let stored: Vec<EventId> = events.iter().map(|e| e.id).collect();
    let unique: BTreeSet<EventId> = stored.iter().copied().collect();
    assert_eq!(unique.len(), stored.len(), "an event stored twice");
    for e in &acknowledged {
        assert!(unique.contains(e), "acknowledged event {e:?} missing");
    }
    support::assert_equals_cold_fold(&engine, &events, "after a reopen");
}

#[test]
fn a_checkpoint_taken_while_commands_write_covers_exactly_the_events_before_its_marker() {
    let faults = Arc::new(Faults::default());
    // Slow writes: a command spends most of its time between its write and its fold.
    faults.write_delay_ms.store(2, Ordering::SeqCst);
    let log = EventLog::open(FaultyBackend::new(faults.clone()), Durability::EveryAppend).unwrap();
    let engine =
        Arc::new(Engine::over(log, EngineOptions::default().with_checkpoint_every(None)).unwrap());
    let chats: Vec<ConversationId> = (0..4)
        .map(|t| ConversationId::direct(id(&format!("s{t}")), id(&format!("r{t}"))).unwrap())
        .collect();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let threads: Vec<_> = chats
        .iter()
        .enumerate()
        .map(|(t, chat)| {
            let (engine, chat, done) = (engine.clone(), chat.clone(), done.clone());
            std::thread::spawn(move || {
                let mut n = 0u128;
                while !done.load(Ordering::SeqCst) {
                    let sender = id(&format!("s{t}"));
                    engine
                        .execute_command(send((t as u128 + 1) << 32 | n, &chat, &sender))
                        .unwrap();
                    n += 1;
                }
            })
        })
        .collect();
    for round in 0..40 {
        let report = engine.checkpoint().unwrap();
        let marker = report.position;
        // What the checkpoint stored for each conversation is the fold of the log's events
        // before its marker: none missing (written, not yet folded), none after it.
        let mut events = Vec::new();
        engine.log().replay(0, |e| events.push(e.event)).unwrap();
        assert!(events.len() as u64 >= marker);
        for chat in &chats {
            let before: Vec<Event> = events[..marker as usize]
                .iter()
                .filter(|e| &e.body.conversation() == chat)
                .cloned()
                .collect();
            let stored = engine.log().stored_header(chat).map(|h| h.unwrap());
            let folded = State::from_events(&before)
                .header(chat)
                .map(|h| (h, before.len() as u64));
            assert_eq!(stored, folded, "round {round}, marker {marker}, {chat}");
        }
    }
    done.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
}
