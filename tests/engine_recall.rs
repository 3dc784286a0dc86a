//! Recall through the Engine on sled: a recall in a group refreshes no member's summary when it
//! is folded; each member's badge is still right, from a cold store, after a restart, and
//! `verify` accepts the summaries a recall left behind.

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
fn every_member_s_badge_is_right_after_a_group_recall_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let options = || {
        EngineOptions::default()
            .with_policy(Policy::all_receipts_on())
            .with_memory_budget(1) // every other conversation evicted after each command
    };
    let team = GroupId::new("team").unwrap();
    let g = ConversationId::Group(team.clone());
    let members: Vec<UserId> = (0..300).map(|i| id(&format!("m{i}"))).collect();
    {
        let engine = Engine::open(dir.path(), options()).unwrap();
        engine.create_group(&team, &id("ann"), &members).unwrap();
        for n in 1..=3 {
            engine.send_message(&g, m(n), &id("ann")).unwrap();
        }
        for u in members.iter().step_by(2) {
            engine.mark_message_read(m(1), u).unwrap();
        }
        // Summaries are checkpointed before the recall, so the recall leaves them behind.
        engine.checkpoint().unwrap();
        let before = engine.log().syncs();
        engine.recall_message(m(1), &id("ann")).unwrap();
        assert!(engine.log().syncs().flushes_started > before.flushes_started);
        engine.checkpoint().unwrap();
        let report = engine.log().verify().unwrap();
        assert_eq!(report.checkpoint.marker, Some(engine.head()));
    }
    let engine = Engine::open(dir.path(), options()).unwrap();
    for u in &members {
        // Read or not, message 1 is gone: messages 2 and 3 are what is unread.
        assert_eq!(engine.total_unread(u).unwrap(), 2, "{u}");
        assert_eq!(engine.unread_count(u, &g).unwrap(), 2, "{u}");
    }
    assert_eq!(engine.total_unread(&id("ann")).unwrap(), 0);
    match engine.fetch_group_acks(&id("ann"), m(1), None, 10) {
        Err(EngineError::Query(QueryError::MessageRecalled(message))) => assert_eq!(message, m(1)),
        other => panic!("expected MessageRecalled, got {other:?}"),
    }
    let mut events = Vec::new();
    engine.log().replay(0, |e| events.push(e.event)).unwrap();
    support::assert_equals_cold_fold(&engine, &events, "after the recall");
}
