//! Batch read acks and bulk membership through the Engine on sled: one command, one atomic
//! append, one durable commit, and the same answers after a restart.

mod support;

use receipt_engine::*;
use uuid::Uuid;

fn id(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

fn m(n: u128) -> MessageId {
    MessageId(Uuid::from_u128(n))
}

fn options() -> EngineOptions {
    EngineOptions::default()
        .with_policy(Policy::all_receipts_on())
        .with_durability(Durability::EveryAppend)
}

#[test]
fn a_201_member_group_is_one_append_and_one_commit() {
    let dir = tempfile::tempdir().unwrap();
    let team = GroupId::new("team").unwrap();
    let g = ConversationId::Group(team.clone());
    let members: Vec<UserId> = (0..200).map(|i| id(&format!("m{i}"))).collect();
    {
        let engine = Engine::open(dir.path(), options()).unwrap();
        let before = engine.log().syncs();
        let o = engine.create_group(&team, &id("owner"), &members).unwrap();
        let after = engine.log().syncs();
        assert_eq!(o.events.len(), 201);
        assert_eq!(o.first_position, Some(0));
        assert_eq!(engine.head(), 201);
        assert_eq!(
            after.flushes_started - before.flushes_started,
            1,
            "one durable commit for the whole roster"
        );
        engine.send_message(&g, m(1), &id("owner")).unwrap();
        let removed = engine.remove_members(&team, &members[..100]).unwrap();
        assert_eq!(removed.events.len(), 100);
        assert_eq!(engine.head(), 302);
    }
    let engine = Engine::open(dir.path(), options()).unwrap();
    assert_eq!(
        engine.unread_count(&id("m0"), &g).unwrap(),
        1,
        "read state outlives leaving"
    );
    assert_eq!(engine.unread_count(&id("m199"), &g).unwrap(), 1);
    let re_added = engine
        .add_members(&team, &[id("m0"), id("m150"), id("new")], Role::Member)
        .unwrap();
    assert_eq!(re_added.events.len(), 2, "m150 is a member already");
    let mut events = Vec::new();
    engine.log().replay(0, |e| events.push(e.event)).unwrap();
    support::assert_equals_cold_fold(&engine, &events, "after the bulk commands");
}

#[test]
fn a_batch_read_ack_is_one_append_and_names_a_message_of_another_conversation() {
    let engine = Engine::in_memory(options()).unwrap();
    let (ann, bob, cat) = (id("ann"), id("bob"), id("cat"));
    let chat = ConversationId::direct(ann.clone(), bob.clone()).unwrap();
    let other = ConversationId::direct(ann.clone(), cat.clone()).unwrap();
    for n in 1..=3 {
        engine.send_message(&chat, m(n), &ann).unwrap();
    }
    engine.send_message(&other, m(9), &ann).unwrap();
    // The engine decides against the chat's partition, which does not hold message 9: it
    // still answers as a fold of the whole store would.
    match engine.ack_messages_read(&chat, &[m(1), m(9)], &bob) {
        Err(EngineError::Rejected(DomainError::MessageNotInConversation {
            message,
            conversation,
        })) => {
            assert_eq!(message, m(9));
            assert_eq!(conversation, chat);
        }
        other => panic!("expected MessageNotInConversation, got {other:?}"),
    }
    assert_eq!(engine.head(), 4, "nothing of the refused batch was written");
    let o = engine
        .ack_messages_read(&chat, &[m(1), m(2), m(3)], &bob)
        .unwrap();
    assert_eq!(o.events.len(), 3);
    assert_eq!(o.first_position, Some(4));
    assert_eq!(engine.unread_count(&bob, &chat).unwrap(), 0);
    assert_eq!(engine.unread_count(&cat, &other).unwrap(), 1);
}
