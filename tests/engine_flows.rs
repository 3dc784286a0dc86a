//! The seed's flows end to end through the Engine on sled: direct delivery, read and
//! conversation receipts; group receipts with count, paging, visibility, expiry, cap and
//! permission; a restart in the middle; notifications resumed with no loss and no duplicate;
//! many threads at once; time travel; progress reports.

mod support;

use receipt_engine::*;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

fn id(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

fn m(n: u128) -> MessageId {
    MessageId(Uuid::from_u128(n))
}

fn options(clock: &Arc<ManualClock>) -> EngineOptions {
    EngineOptions::default()
        .with_policy(Policy::all_receipts_on())
        .with_clock(clock.clone())
}

#[test]
fn direct_chat_flow_survives_a_restart_and_notifications_resume_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let (alice, bob) = (id("alice"), id("bob"));
    let chat = ConversationId::direct(alice.clone(), bob.clone()).unwrap();
    let mut handled = Vec::new();
    {
        let engine = Engine::open(dir.path(), options(&clock)).unwrap();
        let (_, mut live) = engine.subscribe(1 << 20);
        for n in 1..=3 {
            engine.send_message(&chat, m(n), &alice).unwrap();
        }
        engine.deliver(m(1), &bob).unwrap();
        assert!(
            engine.deliver(m(1), &bob).unwrap().events.is_empty(),
            "second delivery is a no-op"
        );
        engine.ack_message_read(m(1), &bob).unwrap();
        handled.extend(live.try_iter().map(|n| n.expect("the subscriber kept up")));
        assert_eq!(engine.unread_count(&bob, &chat).unwrap(), 2);
    } // the engine is dropped: a restart
    let engine = Engine::open(dir.path(), options(&clock)).unwrap();
    assert_eq!(
        engine.unread_count(&bob, &chat).unwrap(),
        2,
        "queries resume"
    );
    let (start, mut live) = engine.subscribe(1 << 20);
    let out = engine.ack_conversation_read(&chat, &bob).unwrap();
    assert_eq!(out.events.len(), 1);
    assert_eq!(engine.unread_count(&bob, &chat).unwrap(), 0);
    for n in 1..=3 {
        assert!(engine.message_status(&alice, m(n)).unwrap().has_read_ack);
    }
    // A consumer that handled notifications before the restart catches up from the position
    // after the last one it handled, then follows the subscription: no loss, no duplicate.
    let resume_from = handled.last().unwrap().position + 1;
    let mut caught_up = engine.notifications_since(resume_from).unwrap();
    caught_up.retain(|p| p.position < start);
    handled.extend(caught_up);
    handled.extend(live.try_iter().map(|n| n.expect("the subscriber kept up")));
    assert_eq!(handled, engine.notifications_since(0).unwrap());
    let kinds: Vec<&NotificationKind> = handled
        .iter()
        .filter(|p| p.notification.to == alice)
        .map(|p| &p.notification.kind)
        .collect();
    assert!(matches!(
        kinds[0],
        NotificationKind::MessageDelivered { .. }
    ));
    assert!(matches!(kinds[1], NotificationKind::MessageRead { .. }));
    assert!(matches!(
        kinds[2],
        NotificationKind::ConversationRead { .. }
    ));
}

#[test]
fn group_flow_count_paging_visibility_expiry_cap_and_permission() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let policy = Policy::all_receipts_on()
        .with_max_group_size(4)
        .with_group_ack_requesters(GroupAckRequesters::OwnerAndAdmins);
    let engine = Engine::open(dir.path(), options(&clock).with_policy(policy)).unwrap();
    let team = GroupId::new("team").unwrap();
    let g = ConversationId::Group(team.clone());
    engine.join_group(&team, &id("owner"), Role::Owner).unwrap();
    for name in ["r1", "r2", "r3"] {
        engine.join_group(&team, &id(name), Role::Member).unwrap();
    }
    engine
        .send_message_requesting_group_acks(&g, m(1), &id("owner"))
        .unwrap();
    let declined = engine
        .send_message_requesting_group_acks(&g, m(2), &id("r1"))
        .unwrap();
    assert_eq!(
        declined.note,
        Some(Note::GroupAckDeclined(GroupAckDeclined::SenderNotPermitted))
    );
    for (i, name) in ["r3", "r1", "r2"].iter().enumerate() {
        clock.advance(1_000);
        let out = engine.ack_group_message_read(m(1), &id(name)).unwrap();
        assert!(out.notifications.iter().any(|n| matches!(n.kind, NotificationKind::GroupMessageRead { count, .. } if count == i as u32 + 1)));
    }
    assert_eq!(engine.group_ack_count(&id("owner"), m(1)).unwrap(), 3);
    let page = engine
        .fetch_group_acks(&id("owner"), m(1), None, 2)
        .unwrap();
    assert_eq!(
        page.entries
            .iter()
            .map(|e| e.reader.as_str())
            .collect::<Vec<_>>(),
        ["r3", "r1"]
    );
    let rest = engine
        .fetch_group_acks(&id("owner"), m(1), page.next, 2)
        .unwrap();
    assert_eq!(rest.entries.len(), 1);
    assert_eq!(rest.next, None);
    assert!(matches!(
        engine.group_ack_count(&id("r1"), m(1)),
        Err(EngineError::Query(QueryError::Forbidden { .. }))
    ));
    // Expiry: three days and a millisecond after sending.
    engine
        .send_message_requesting_group_acks(&g, m(3), &id("owner"))
        .unwrap();
    clock.advance(3 * DAY_MS + 1);
    assert!(matches!(
        engine.ack_group_message_read(m(3), &id("r1")),
        Err(EngineError::Rejected(DomainError::AckExpired { .. }))
    ));
    // Cap: a fifth member makes the group too large for receipts.
    engine.join_group(&team, &id("r4"), Role::Member).unwrap();
    let big = engine
        .send_message_requesting_group_acks(&g, m(4), &id("owner"))
        .unwrap();
    assert!(matches!(
        big.note,
        Some(Note::GroupAckDeclined(GroupAckDeclined::GroupTooLarge {
            members: 5,
            max_group_size: 4
        }))
    ));
    // Group chats have no delivery receipts.
    assert!(matches!(
        engine.deliver(m(1), &id("r1")),
        Err(EngineError::Rejected(DomainError::GroupDeliveryUnsupported))
    ));
}

#[test]
fn rejected_command_changes_neither_state_nor_log() {
    let engine = Engine::in_memory(EngineOptions::default()).unwrap();
    let chat = ConversationId::direct(id("a"), id("b")).unwrap();
    engine.send_message(&chat, m(1), &id("a")).unwrap();
    let before = engine.with_partition(&chat, |s, _| s.clone()).unwrap();
    let head = engine.head();
    assert!(matches!(
        engine.deliver(m(1), &id("b")),
        Err(EngineError::Rejected(DomainError::DeliveryAcksDisabled))
    ));
    assert!(engine.send_message(&chat, m(2), &id("zed")).is_err());
    assert_eq!(engine.head(), head);
    assert_eq!(
        engine.with_partition(&chat, |s, _| s.clone()).unwrap(),
        before
    );
}

#[test]
fn many_threads_commands_and_queries_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(
        Engine::open(
            dir.path(),
            EngineOptions::default().with_policy(Policy::all_receipts_on()),
        )
        .unwrap(),
    );
    let team = GroupId::new("team").unwrap();
    let g = ConversationId::Group(team.clone());
    engine.join_group(&team, &id("owner"), Role::Owner).unwrap();
    for t in 0..8 {
        engine
            .join_group(&team, &id(&format!("t{t}")), Role::Member)
            .unwrap();
    }
    for n in 0..20 {
        engine
            .send_message_requesting_group_acks(&g, m(n), &id("owner"))
            .unwrap();
    }
    let (start, mut live) = engine.subscribe(1 << 20);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let me = id(&format!("t{t}"));
                let chat = ConversationId::direct(me.clone(), id("owner")).unwrap();
                for n in 0..20 {
                    engine.ack_group_message_read(m(n), &me).unwrap();
                    engine
                        .send_message(&chat, m(1000 + t * 100 + n), &me)
                        .unwrap();
                    let _ = engine.total_unread(&id("owner"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for n in 0..20 {
        assert_eq!(
            engine.group_ack_count(&id("owner"), m(n)).unwrap(),
            8,
            "every ack counted once"
        );
    }
    assert_eq!(engine.total_unread(&id("owner")).unwrap(), 20 * 8);
    // Commands finished their flushes in any order; subscribers still saw log order.
    let seen: Vec<Positioned> = live
        .try_iter()
        .map(|n| n.expect("the subscriber kept up"))
        .collect();
    assert!(
        seen.windows(2).all(|w| w[0].position <= w[1].position),
        "published in log order"
    );
    assert_eq!(seen, engine.notifications_since(start).unwrap());
    let mut events = Vec::new();
    let end = engine.log().replay(0, |e| events.push(e.event)).unwrap();
    assert_eq!(end, engine.head());
    support::assert_equals_cold_fold(&*engine, &events, "after 8 threads");
}

#[test]
fn time_travel_shows_the_projections_at_a_past_position() {
    let engine =
        Engine::in_memory(EngineOptions::default().with_checkpoint_every(Some(2))).unwrap();
    let chat = ConversationId::direct(id("a"), id("b")).unwrap();
    for n in 1..=5 {
        engine.send_message(&chat, m(n), &id("a")).unwrap();
    }
    engine.mark_conversation_read(&chat, &id("b")).unwrap();
    assert_eq!(engine.unread_count(&id("b"), &chat).unwrap(), 0);
    let at3 = engine.state_at(3).unwrap();
    assert_eq!(at3.unread_count(&id("b"), &chat), 3);
    assert_eq!(at3.events_applied(), 3);
    assert_eq!(engine.state_at(5).unwrap().unread_count(&id("b"), &chat), 5);
}

#[test]
fn opening_reports_progress_until_every_event_is_folded() {
    let dir = tempfile::tempdir().unwrap();
    let chat = ConversationId::direct(id("a"), id("b")).unwrap();
    // Checkpoints only on request: closing leaves the events unfolded into any checkpoint.
    let write = |from: u128, to: u128| {
        let engine = Engine::open(
            dir.path(),
            EngineOptions::default().with_checkpoint_every(None),
        )
        .unwrap();
        for n in from..to {
            engine.send_message(&chat, m(n), &id("a")).unwrap();
        }
    };
    let open_seeing = || {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let options = EngineOptions::default()
            .with_checkpoint_every(None)
            .with_progress(Arc::new(move |p: Progress| sink.lock().unwrap().push(p)));
        let engine = Engine::open(dir.path(), options).unwrap();
        let seen = seen.lock().unwrap().clone();
        (engine, seen)
    };
    write(0, 120);
    // No checkpoint at all: the whole log is folded (and checkpointed) from position 0.
    let (engine, seen) = open_seeing();
    assert_eq!(seen.first().map(|p| p.done), Some(0));
    assert_eq!(
        seen.last(),
        Some(&Progress {
            done: 120,
            total: 120
        })
    );
    assert_eq!(engine.unread_count(&id("b"), &chat).unwrap(), 120);
    drop(engine);
    // 30 more after that checkpoint: only they are folded.
    write(120, 150);
    let (engine, seen) = open_seeing();
    assert_eq!(
        seen.first().map(|p| p.done),
        Some(120),
        "starts from the checkpoint"
    );
    assert_eq!(
        seen.last(),
        Some(&Progress {
            done: 150,
            total: 150
        })
    );
    assert_eq!(engine.unread_count(&id("b"), &chat).unwrap(), 150);
}
