//! The store-wide bound on read acks held for messages not sent yet, through the Engine on sled:
//! counted across conversations whatever the cache holds, kept across restarts (with and without
//! a checkpoint marker), never exceeded by concurrent commands, and expired acks of other
//! conversations dropped before an ack is refused for it.

use receipt_engine::*;
use std::sync::Arc;
use uuid::Uuid;

fn id(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

fn m(n: u128) -> MessageId {
    MessageId(Uuid::from_u128(n))
}

fn chat(a: &str, b: &str) -> ConversationId {
    ConversationId::direct(id(a), id(b)).unwrap()
}

const TTL_MS: u64 = 1_000;

fn options(clock: &Arc<ManualClock>, max_total: u32) -> EngineOptions {
    EngineOptions::default()
        .with_policy(
            Policy::all_receipts_on()
                .with_max_early_acks_total(max_total)
                .with_early_ack_ttl_ms(TTL_MS),
        )
        .with_clock(clock.clone())
        // Every other conversation is evicted after each command: the count must not depend on
        // which partitions are resident.
        .with_memory_budget(1)
}

fn full(r: Result<Outcome, EngineError>) -> bool {
    matches!(
        r,
        Err(EngineError::Rejected(DomainError::EarlyAcksFull { .. }))
    )
}

#[test]
fn the_total_holds_across_conversations_restarts_and_rebuilds() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000_000));
    {
        // Checkpoints only on request, none at close (and a budget that asks for none): the
        // next open folds a tail.
        let engine = Engine::open(
            dir.path(),
            options(&clock, 3)
                .with_checkpoint_every(None)
                .with_memory_budget(64 << 20),
        )
        .unwrap();
        engine
            .ack_message_read_in(&chat("ann", "bob"), m(1), &id("bob"))
            .unwrap();
        engine
            .ack_message_read_in(&chat("ann", "cat"), m(2), &id("cat"))
            .unwrap();
        engine.checkpoint().unwrap();
        // After the marker: the open folds this one from the tail.
        engine
            .ack_message_read_in(&chat("ann", "dan"), m(3), &id("dan"))
            .unwrap();
        assert_eq!(engine.early_acks_held(), 3);
        assert!(full(engine.ack_message_read_in(
            &chat("bob", "cat"),
            m(4),
            &id("cat")
        )));
        // Closed without a checkpoint of the last ack: the marker covers two, the tail one.
        assert_eq!(
            engine
                .log()
                .checkpoint_mark()
                .unwrap()
                .unwrap()
                .unwrap()
                .held_early_acks
                .total(),
            2
        );
    }
    let reopened = Engine::open(dir.path(), options(&clock, 3)).unwrap();
    assert_eq!(reopened.early_acks_held(), 3);
    assert!(full(reopened.ack_message_read_in(
        &chat("bob", "cat"),
        m(4),
        &id("cat")
    )));
    // The message comes: its held ack is applied, which makes room.
    reopened
        .send_message(&chat("ann", "bob"), m(1), &id("ann"))
        .unwrap();
    assert_eq!(reopened.early_acks_held(), 2);
    reopened
        .ack_message_read_in(&chat("bob", "cat"), m(4), &id("cat"))
        .unwrap();
    assert_eq!(reopened.early_acks_held(), 3);
    let report = reopened.log().verify().unwrap();
    assert_eq!(report.checkpoint.other_layout, None);
    drop(reopened);
    // Every checkpoint rebuilt from the log (what an open does without a usable marker).
    {
        let log = store::SledLog::open_dir(dir.path(), store::Durability::EveryAppend).unwrap();
        rebuild_checkpoints(&log, 2).unwrap();
        let report = log.verify().unwrap();
        assert_eq!(report.checkpoint.marker, Some(log.head()));
    }
    let rebuilt = Engine::open(dir.path(), options(&clock, 3)).unwrap();
    assert_eq!(rebuilt.early_acks_held(), 3);
}

#[test]
fn expired_acks_elsewhere_are_dropped_before_an_ack_is_refused_for_the_total() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000_000));
    let engine = Engine::open(dir.path(), options(&clock, 2)).unwrap();
    engine
        .ack_message_read_in(&chat("ann", "bob"), m(1), &id("bob"))
        .unwrap();
    clock.advance(TTL_MS / 2);
    engine
        .ack_message_read_in(&chat("ann", "cat"), m(2), &id("cat"))
        .unwrap();
    // Nothing expired yet: refused, nothing written.
    let head = engine.head();
    assert!(full(engine.ack_message_read_in(
        &chat("ann", "dan"),
        m(3),
        &id("dan")
    )));
    assert_eq!(engine.head(), head);
    let (_, mut live) = engine.subscribe(1 << 20);
    // The first ack expires: it is dropped (its reader told), and the new one is held.
    clock.advance(TTL_MS / 2 + 1);
    let held = engine
        .ack_message_read_in(&chat("ann", "dan"), m(3), &id("dan"))
        .unwrap();
    assert_eq!(held.events.len(), 1);
    assert_eq!(held.events[0].body.kind_name(), "ReadAckBuffered");
    assert_eq!(engine.early_acks_held(), 2);
    let told: Vec<Notification> = live
        .try_iter()
        .map(|n| n.expect("the subscriber kept up"))
        .map(|p| p.notification)
        .collect();
    assert!(told.contains(&Notification {
        to: id("bob"),
        kind: NotificationKind::EarlyAckDropped {
            conversation: chat("ann", "bob"),
            message: m(1),
            reason: EarlyAckDropReason::Expired,
        },
    }));
    // The message of the dropped ack comes: nobody's read receipt is applied to it.
    let sent = engine
        .send_message(&chat("ann", "bob"), m(1), &id("ann"))
        .unwrap();
    assert_eq!(sent.events.len(), 1);
    assert_eq!(
        engine
            .unread_count(&id("bob"), &chat("ann", "bob"))
            .unwrap(),
        1
    );
    // `expire_early_acks` drops the rest once they expire.
    assert_eq!(engine.expire_early_acks().unwrap(), 0);
    clock.advance(TTL_MS + 1);
    assert_eq!(engine.expire_early_acks().unwrap(), 2);
    assert_eq!(engine.early_acks_held(), 0);
}

#[test]
fn concurrent_acks_in_many_conversations_never_exceed_the_total() {
    const MAX_TOTAL: u32 = 12;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000_000));
    let engine = Arc::new(Engine::open(dir.path(), options(&clock, MAX_TOTAL)).unwrap());
    let threads: Vec<_> = (0..4u128)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for i in 0..10u128 {
                    let c = chat(&format!("t{t}"), &format!("peer{i}"));
                    let message = m(1_000 * (t + 1) + i);
                    match engine.ack_message_read_in(&c, message, &id(&format!("peer{i}"))) {
                        Ok(o) => {
                            assert_eq!(o.events[0].body.kind_name(), "ReadAckBuffered");
                            held.push(message);
                        }
                        Err(EngineError::Rejected(DomainError::EarlyAcksFull { max_total })) => {
                            assert_eq!(max_total, MAX_TOTAL)
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                held
            })
        })
        .collect();
    let mut held: Vec<MessageId> = Vec::new();
    for t in threads {
        held.extend(t.join().unwrap());
    }
    // Exactly the bound was accepted (40 tried), each one in the log.
    assert_eq!(held.len(), MAX_TOTAL as usize);
    assert_eq!(engine.early_acks_held(), u64::from(MAX_TOTAL));
    let mut logged = Vec::new();
    engine
        .log()
        .replay(0, |e| {
            if let EventBody::ReadAckBuffered { message, .. } = e.event.body {
                logged.push(message);
            }
        })
        .unwrap();
    held.sort();
    logged.sort();
    assert_eq!(held, logged);
}

#[test]
fn the_count_is_right_after_a_crash_that_left_a_partition_checkpoint_past_the_marker() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000_000));
    // A budget that holds the group's partition only by evicting the chat's, and no checkpoint
    // at close: the reopen finds the marker before the held ack and the chat's partition
    // checkpoint (written by its eviction) after it.
    let options = || {
        options(&clock, 10)
            .with_memory_budget(96 << 10)
            .with_checkpoint_every(None)
    };
    let team = GroupId::new("team").unwrap();
    {
        let engine = Engine::open(dir.path(), options()).unwrap();
        engine
            .create_group(&team, &id("ann"), &[id("bob")])
            .unwrap();
        engine.checkpoint().unwrap();
        engine
            .ack_message_read_in(&chat("cat", "dan"), m(1), &id("dan"))
            .unwrap();
        let g = ConversationId::Group(team.clone());
        for n in 0..1_500 {
            engine.send_message(&g, m(100 + n), &id("ann")).unwrap();
        }
        assert!(
            engine.cache_stats().eviction_writes > 0,
            "{:?}",
            engine.cache_stats()
        );
        assert_eq!(engine.early_acks_held(), 1);
    }
    let reopened = Engine::open(dir.path(), options()).unwrap();
    assert_eq!(reopened.early_acks_held(), 1);
}
