//! Threads through the Engine on sled: a reply refreshes no follower's summary when folded (the
//! checkpoint after it writes one summary however many follow), every follower's badge is still
//! right from a cold cache and after a restart, `verify` accepts the summaries a reply left
//! behind, and reply ids are unique across conversations.

mod support;

use receipt_engine::*;
use uuid::Uuid;

fn id(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

fn m(n: u128) -> MessageId {
    MessageId(Uuid::from_u128(n))
}

#[test]
fn followers_badges_are_right_after_replies_checkpoints_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let options = |in_total: bool| {
        EngineOptions::default()
            .with_policy(Policy::all_receipts_on().with_thread_unread_in_total(in_total))
    };
    let team = GroupId::new("team").unwrap();
    let g = ConversationId::Group(team.clone());
    let members: Vec<UserId> = (0..40).map(|i| id(&format!("m{i}"))).collect();
    {
        // Checkpoints only when asked, so each one shows what a step changed.
        let engine = Engine::open(dir.path(), options(false).with_checkpoint_every(None)).unwrap();
        engine.create_group(&team, &id("ann"), &members).unwrap();
        engine.send_message(&g, m(1), &id("ann")).unwrap();
        engine
            .send_thread_reply(&g, m(1), m(100), &members[0])
            .unwrap();
        for u in &members[1..30] {
            engine.follow_thread(&g, m(1), u).unwrap();
        }
        engine.checkpoint().unwrap();
        // One reply, 31 followers: the checkpoint after it writes the partition, the header,
        // the sender's summary and its roster, and the marker, nothing per follower.
        engine
            .send_thread_reply(&g, m(1), m(101), &members[0])
            .unwrap();
        let report = engine.checkpoint().unwrap();
        assert_eq!((report.partitions, report.entries), (1, 5), "{report:?}");
        // Every follower's badge counts it anyway (their summaries refresh when asked).
        assert_eq!(engine.badge(&id("ann")).unwrap().thread_unread, 2);
        assert_eq!(engine.badge(&members[1]).unwrap().thread_unread, 1);
        assert_eq!(engine.badge(&members[0]).unwrap().thread_unread, 0);
        assert_eq!(engine.badge(&members[35]).unwrap().thread_unread, 0);
        // Nobody's conversation unread moved, and by default the total leaves replies out.
        assert_eq!(engine.total_unread(&members[1]).unwrap(), 1);
        // verify accepts the summaries the reply left behind.
        engine.checkpoint().unwrap();
        engine.log().verify().unwrap();
        engine.ack_thread_read(&g, m(1), &members[1]).unwrap();
        assert_eq!(
            engine.thread_read_by(&members[0], m(100)).unwrap(),
            vec![members[1].clone()]
        );
    }
    // A restart with the policy counting replies in the total, and a 1-byte budget: every
    // other conversation is evicted after each command, answers come from summaries.
    let engine = Engine::open(dir.path(), options(true).with_memory_budget(1)).unwrap();
    assert_eq!(engine.total_unread(&id("ann")).unwrap(), 2);
    assert_eq!(engine.total_unread(&members[2]).unwrap(), 1 + 1);
    assert_eq!(engine.total_unread(&members[1]).unwrap(), 1);
    assert_eq!(
        engine.thread_unreads(&members[2], &g).unwrap(),
        vec![ThreadUnread {
            root: m(1),
            replies: 2,
            unread: 1
        }]
    );
    let mut events = Vec::new();
    engine.log().replay(0, |e| events.push(e.event)).unwrap();
    support::assert_equals_cold_fold(&engine, &events, "threads");
}

#[test]
fn reply_ids_are_unique_with_message_ids_across_conversations() {
    let engine = Engine::in_memory(EngineOptions::default().with_memory_budget(1)).unwrap();
    let (ann, bob, cat) = (id("ann"), id("bob"), id("cat"));
    let ab = ConversationId::direct(ann.clone(), bob.clone()).unwrap();
    let ac = ConversationId::direct(ann.clone(), cat.clone()).unwrap();
    engine.send_message(&ab, m(1), &ann).unwrap();
    engine.send_message(&ac, m(2), &ann).unwrap();
    engine.send_thread_reply(&ab, m(1), m(100), &bob).unwrap();
    // Another conversation's partition does not hold the reply: the store's index does.
    let in_use = |r: Result<Outcome, EngineError>| {
        matches!(
            r,
            Err(EngineError::Rejected(DomainError::MessageIdInUse(_)))
        )
    };
    assert!(in_use(engine.send_message(&ac, m(100), &ann)));
    assert!(in_use(engine.send_thread_reply(&ac, m(2), m(100), &cat)));
    assert!(in_use(engine.send_thread_reply(&ac, m(2), m(1), &cat)));
    // A message command naming a reply is told the reply is no message of its conversation.
    assert!(matches!(
        engine.ack_messages_read(&ac, &[m(100)], &cat),
        Err(EngineError::Rejected(
            DomainError::MessageNotInConversation { .. }
        ))
    ));
    let mut events = Vec::new();
    engine.log().replay(0, |e| events.push(e.event)).unwrap();
    assert_eq!(events.len(), 3);
}
