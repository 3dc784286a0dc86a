//! The async facade's subscriptions cost no thread: 10,000 `subscribe_user` calls leave the
//! process's thread count where it was, and dropped subscriptions are released. Delivery and
//! the overflow report work as before. One test in this binary: the thread count is the
//! process's, so no other test may run beside it.

#![cfg(feature = "tokio")]

use receipt_engine::asynchronous::AsyncEngine;
use receipt_engine::*;

/// This process's threads, from /proc (Linux).
fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn async_subscriptions_cost_no_thread_deliver_and_report_an_overflow() {
    ten_thousand_subscribers_cost_no_thread_and_are_released_when_dropped();
    an_async_subscriber_that_falls_behind_is_told_where_it_stopped();
}

fn ten_thousand_subscribers_cost_no_thread_and_are_released_when_dropped() {
    let runtime = runtime();
    runtime.block_on(async {
        let engine = AsyncEngine::new(
            Engine::in_memory(EngineOptions::default().with_policy(Policy::all_receipts_on()))
                .unwrap(),
        );
        let before = threads();
        let users: Vec<UserId> = (0..10_000)
            .map(|i| UserId::new(format!("user{i}")).unwrap())
            .collect();
        let subscriptions: Vec<_> = users
            .iter()
            .map(|u| engine.subscribe_user(u, 8).1)
            .collect();
        let all = engine.subscribe(8).1;
        assert_eq!(threads(), before, "subscribing started threads");
        drop(subscriptions);
        drop(all);
        // A subscription dropped is released: the next notification to its user (or the next
        // subscription) finds its channel closed. Notify every user once, then subscribe again.
        for pair in users.chunks(2) {
            let chat = ConversationId::direct(pair[0].clone(), pair[1].clone()).unwrap();
            engine
                .engine()
                .send_message(&chat, MessageId(uuid::Uuid::now_v7()), &pair[0])
                .unwrap();
        }
        let (_, mut again) = engine.subscribe_user(&users[0], 8);
        assert_eq!(threads(), before, "threads after the subscribers dropped");
        // Delivery still works for a live subscriber.
        let chat = ConversationId::direct(users[0].clone(), users[1].clone()).unwrap();
        let m = MessageId(uuid::Uuid::now_v7());
        engine.engine().send_message(&chat, m, &users[1]).unwrap();
        engine.engine().ack_message_read(m, &users[0]).unwrap();
        let got = again.next().await.unwrap().unwrap();
        assert_eq!(got.notification.to, users[0]);
    });
}

fn an_async_subscriber_that_falls_behind_is_told_where_it_stopped() {
    let runtime = runtime();
    runtime.block_on(async {
        let engine = AsyncEngine::new(
            Engine::in_memory(EngineOptions::default().with_policy(Policy::all_receipts_on()))
                .unwrap(),
        );
        let (ann, bob) = (UserId::new("ann").unwrap(), UserId::new("bob").unwrap());
        let chat = ConversationId::direct(ann.clone(), bob.clone()).unwrap();
        let (_, mut to_ann) = engine.subscribe_user(&ann, 1);
        let mut positions = Vec::new();
        for _ in 0..3 {
            let m = MessageId(uuid::Uuid::now_v7());
            engine.engine().send_message(&chat, m, &ann).unwrap();
            let acked = engine.engine().ack_message_read(m, &bob).unwrap();
            positions.push(acked.first_position.unwrap());
        }
        let first = to_ann.next().await.unwrap().unwrap();
        assert_eq!(first.position, positions[0]);
        match to_ann.next().await {
            Some(Err(o)) => assert_eq!(o.resume_from, positions[1]),
            other => panic!("expected the overflow, got {other:?}"),
        }
        assert!(
            to_ann.next().await.is_none(),
            "said once, then the stream ends"
        );
    });
}
