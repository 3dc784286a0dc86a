//! Per-user notification streams: each subscriber gets exactly its user's notifications, in
//! log order, bounded; one that falls behind is told where it stopped and catches up from the
//! log with nothing missed.

use receipt_engine::*;
use uuid::Uuid;

fn id(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

fn m(n: u128) -> MessageId {
    MessageId(Uuid::from_u128(n))
}

fn engine() -> Engine<store::MemoryBackend> {
    Engine::in_memory(EngineOptions::default().with_policy(Policy::all_receipts_on())).unwrap()
}

fn drain(s: &mut UserNotifications) -> Vec<Result<Positioned, Overflowed>> {
    std::iter::from_fn(|| s.try_recv()).collect()
}

#[test]
fn each_user_gets_exactly_their_own_notifications_in_log_order() {
    let engine = engine();
    let users: Vec<UserId> = (0..20).map(|i| id(&format!("u{i}"))).collect();
    let (start, mut all) = engine.subscribe(1 << 20);
    let mut streams: Vec<UserNotifications> = users
        .iter()
        .map(|u| engine.subscribe_user(u, 1_000).1)
        .collect();
    let hub = id("hub");
    for (i, u) in users.iter().enumerate() {
        let chat = ConversationId::direct(hub.clone(), u.clone()).unwrap();
        for k in 0..3u128 {
            let message = m(i as u128 * 10 + k);
            engine.send_message(&chat, message, &hub).unwrap();
            engine.ack_message_read(message, u).unwrap();
        }
        engine.ack_conversation_read(&chat, u).unwrap();
    }
    let everything: Vec<Positioned> = all
        .try_iter()
        .map(|n| n.expect("the subscriber kept up"))
        .collect();
    assert_eq!(everything, engine.notifications_since(start).unwrap());
    for (u, stream) in users.iter().zip(&mut streams) {
        let got: Vec<Positioned> = drain(stream).into_iter().map(Result::unwrap).collect();
        let want: Vec<Positioned> = everything
            .iter()
            .filter(|n| &n.notification.to == u)
            .cloned()
            .collect();
        assert!(!want.is_empty());
        assert_eq!(got, want, "{u}");
        assert_eq!(engine.user_notifications_since(u, start).unwrap(), want);
    }
}

#[test]
fn a_subscriber_that_falls_behind_is_told_where_and_catches_up_with_nothing_missed() {
    let engine = engine();
    let (ann, bob) = (id("ann"), id("bob"));
    let chat = ConversationId::direct(ann.clone(), bob.clone()).unwrap();
    let (start, mut to_ann) = engine.subscribe_user(&ann, 2);
    for n in 0..5 {
        engine.send_message(&chat, m(n), &ann).unwrap();
        engine.ack_message_read(m(n), &bob).unwrap(); // one MessageRead to ann each
    }
    let got = drain(&mut to_ann);
    assert_eq!(got.len(), 3, "two delivered, then the overflow: {got:?}");
    let delivered: Vec<Positioned> = got[..2].iter().cloned().map(Result::unwrap).collect();
    let Err(overflow) = &got[2] else {
        panic!("expected the overflow, got {got:?}")
    };
    assert!(to_ann.try_recv().is_none(), "the overflow is said once");
    let all_to_ann = engine.user_notifications_since(&ann, start).unwrap();
    assert_eq!(all_to_ann.len(), 5);
    assert_eq!(overflow.resume_from, all_to_ann[2].position);
    let rest = engine
        .user_notifications_since(&ann, overflow.resume_from)
        .unwrap();
    let mut joined = delivered;
    joined.extend(rest);
    assert_eq!(
        joined, all_to_ann,
        "delivered + caught up = everything, once"
    );
    // Commands never waited for the slow subscriber, and it can subscribe again.
    let (_, mut again) = engine.subscribe_user(&ann, 2);
    engine.send_message(&chat, m(9), &ann).unwrap();
    engine.ack_message_read(m(9), &bob).unwrap();
    assert!(matches!(again.try_recv(), Some(Ok(n)) if n.notification.to == ann));
}

#[test]
fn a_dropped_subscriber_unsubscribes_and_others_keep_receiving() {
    let engine = engine();
    let (ann, bob) = (id("ann"), id("bob"));
    let chat = ConversationId::direct(ann.clone(), bob.clone()).unwrap();
    let (_, first) = engine.subscribe_user(&ann, 10);
    let (_, mut second) = engine.subscribe_user(&ann, 10);
    drop(first);
    engine.send_message(&chat, m(1), &ann).unwrap();
    engine.ack_message_read(m(1), &bob).unwrap();
    let got = drain(&mut second);
    assert_eq!(got.len(), 1);
    assert!(matches!(&got[0], Ok(n) if n.notification.to == ann));
}

#[test]
fn the_subscription_to_every_notification_is_bounded_and_says_where_it_stopped() {
    let engine = engine();
    let (ann, bob) = (id("ann"), id("bob"));
    let chat = ConversationId::direct(ann.clone(), bob.clone()).unwrap();
    let (start, mut all) = engine.subscribe(2);
    for n in 0..3 {
        engine.send_message(&chat, m(n), &ann).unwrap();
        engine.ack_message_read(m(n), &bob).unwrap();
    }
    let got = drain(&mut all);
    let published = engine.notifications_since(start).unwrap();
    assert!(published.len() > 2, "more than fit: {published:?}");
    // The first two, then where it stopped: the third published notification, once.
    assert_eq!(
        got,
        vec![
            Ok(published[0].clone()),
            Ok(published[1].clone()),
            Err(Overflowed {
                resume_from: published[2].position
            })
        ]
    );
    assert!(all.try_recv().is_none(), "said once");
}
