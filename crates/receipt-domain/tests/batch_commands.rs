//! Batch read acks (`asyncSendMessageReadReceipts`) and bulk membership (a group created with its
//! roster, many members added or removed): each is the single commands it stands for, in one
//! decision (one atomic append), all or nothing.

mod support;

use receipt_domain::*;
use support::*;

fn chat() -> ConversationId {
    direct("ann", "bob")
}

fn users(names: &[&str]) -> Vec<UserId> {
    names.iter().map(|n| user(n)).collect()
}

fn ack_all(
    w: &mut World,
    c: ConversationId,
    ms: &[u128],
    by: &str,
) -> Result<Outcome, DomainError> {
    w.run(CommandKind::AckMessagesRead {
        conversation: c,
        messages: ms.iter().map(|&m| msg(m)).collect(),
        reader: user(by),
    })
}

fn kinds(o: &Outcome) -> Vec<&'static str> {
    o.decision
        .events
        .iter()
        .map(|e| e.body.kind_name())
        .collect()
}

#[test]
fn given_three_unread_messages_when_bob_acks_them_in_one_command_then_one_decision_reads_all() {
    let mut w = World::new(Policy::all_receipts_on());
    for m in 1..=3 {
        w.send(chat(), m, "ann", false).unwrap();
    }
    let o = ack_all(&mut w, chat(), &[1, 2, 3], "bob").unwrap();
    assert_eq!(kinds(&o), ["ReadAcked"; 3]);
    assert_eq!(w.unread("bob", &chat()), 0);
    // Ann hears of each message read, as three single acks would tell her.
    let read: Vec<MessageId> = o
        .notifications
        .iter()
        .filter_map(|n| match &n.kind {
            NotificationKind::MessageRead { message, .. } if n.to == user("ann") => Some(*message),
            _ => None,
        })
        .collect();
    assert_eq!(read, [msg(1), msg(2), msg(3)]);
    w.assert_replay_matches();
}

#[test]
fn event_ids_of_a_batch_derive_from_its_command_id_in_order() {
    let mut w = World::new(Policy::all_receipts_on());
    w.send(chat(), 1, "ann", false).unwrap();
    w.send(chat(), 2, "ann", false).unwrap();
    let command = Command {
        id: CommandId(uuid::Uuid::from_u128(77)),
        at_ms: w.now_ms,
        kind: CommandKind::AckMessagesRead {
            conversation: chat(),
            messages: vec![msg(1), msg(2)],
            reader: user("bob"),
        },
    };
    let d = decide(&w.state, &w.policy, &command).unwrap();
    let ids: Vec<EventId> = d.events.iter().map(|e| e.id).collect();
    assert_eq!(ids, [command.id.event_id(0), command.id.event_id(1)]);
}

#[test]
fn acked_messages_are_skipped_a_repeated_id_counts_once_and_all_acked_is_a_no_op() {
    let mut w = World::new(Policy::all_receipts_on());
    for m in 1..=3 {
        w.send(chat(), m, "ann", false).unwrap();
    }
    w.ack(2, "bob").unwrap();
    let o = ack_all(&mut w, chat(), &[1, 2, 1, 3], "bob").unwrap();
    assert_eq!(
        o.decision.events.len(),
        2,
        "2 was acked before, 1 is named twice"
    );
    let again = ack_all(&mut w, chat(), &[3, 1], "bob").unwrap();
    assert!(again.decision.events.is_empty());
    assert_eq!(again.decision.note, Some(Note::AlreadyDone));
    w.assert_replay_matches();
}

#[test]
fn one_message_of_another_conversation_refuses_the_whole_batch_and_changes_nothing() {
    let mut w = World::new(Policy::all_receipts_on());
    w.send(chat(), 1, "ann", false).unwrap();
    w.send(direct("ann", "cat"), 2, "ann", false).unwrap();
    let before = w.state.clone();
    assert_eq!(
        ack_all(&mut w, chat(), &[1, 2], "bob").unwrap_err(),
        DomainError::MessageNotInConversation {
            message: msg(2),
            conversation: chat()
        }
    );
    assert_eq!(
        ack_all(&mut w, chat(), &[1, 9], "bob").unwrap_err(),
        DomainError::UnknownMessage(msg(9))
    );
    // The single ack's own rules hold for every message: ann cannot ack her own message.
    assert!(matches!(
        ack_all(&mut w, chat(), &[1], "ann").unwrap_err(),
        DomainError::OwnMessage { .. }
    ));
    assert_eq!(w.state, before);
    assert_eq!(w.unread("bob", &chat()), 1);
}

#[test]
fn an_empty_batch_or_one_over_the_policy_limit_is_refused_with_its_size() {
    let mut w = World::new(Policy::all_receipts_on().with_max_messages_per_ack(2));
    for m in 1..=3 {
        w.send(chat(), m, "ann", false).unwrap();
    }
    assert_eq!(
        ack_all(&mut w, chat(), &[], "bob").unwrap_err(),
        DomainError::BatchSize { count: 0, max: 2 }
    );
    assert_eq!(
        ack_all(&mut w, chat(), &[1, 2, 3], "bob").unwrap_err(),
        DomainError::BatchSize { count: 3, max: 2 }
    );
    assert_eq!(
        Policy::default().max_messages_per_ack,
        50,
        "the SDK's limit"
    );
    assert!(ack_all(&mut w, chat(), &[1, 2], "bob").is_ok());
}

#[test]
fn a_group_batch_ack_counts_each_message_once_for_the_reader() {
    let mut w = World::new(Policy::all_receipts_on());
    w.run(CommandKind::CreateGroup {
        group: group("team"),
        owner: user("alice"),
        members: users(&["bob", "carol"]),
    })
    .unwrap();
    w.send(gconv("team"), 1, "alice", true).unwrap();
    w.send(gconv("team"), 2, "alice", true).unwrap();
    let o = ack_all(&mut w, gconv("team"), &[1, 2], "bob").unwrap();
    assert_eq!(kinds(&o), ["GroupReadAcked"; 2]);
    assert_eq!(w.ack_count("alice", 1), Ok(1));
    assert_eq!(w.ack_count("alice", 2), Ok(1));
    assert_eq!(w.unread("bob", &gconv("team")), 0);
    assert_eq!(w.unread("carol", &gconv("team")), 2);
    w.assert_replay_matches();
}

#[test]
fn a_group_created_with_201_members_is_one_decision_and_cannot_be_created_twice() {
    let mut w = World::new(Policy::default());
    let members: Vec<UserId> = (0..200).map(|i| user(&format!("m{i}"))).collect();
    let mut named = members.clone();
    named.push(user("owner")); // the owner named again, and a member twice
    named.push(user("m7"));
    let o = w
        .run(CommandKind::CreateGroup {
            group: group("big"),
            owner: user("owner"),
            members: named,
        })
        .unwrap();
    assert_eq!(o.decision.events.len(), 201);
    assert_eq!(
        o.decision.events[0].body,
        EventBody::MemberJoined {
            group: group("big"),
            user: user("owner"),
            role: Role::Owner
        }
    );
    w.send(gconv("big"), 1, "owner", false).unwrap();
    assert_eq!(w.unread("m199", &gconv("big")), 1);
    assert_eq!(
        w.run(CommandKind::CreateGroup {
            group: group("big"),
            owner: user("x"),
            members: vec![],
        })
        .unwrap_err(),
        DomainError::GroupExists(group("big"))
    );
    w.assert_replay_matches();
}

#[test]
fn adding_members_keeps_current_members_roles_and_adding_only_members_is_a_no_op() {
    let mut w = World::new(Policy::default());
    w.join("team", "alice", Role::Owner).unwrap();
    w.join("team", "bob", Role::Member).unwrap();
    w.leave("team", "bob").unwrap();
    let o = w
        .run(CommandKind::AddMembers {
            group: group("team"),
            users: users(&["alice", "bob", "carol"]),
            role: Role::Admin,
        })
        .unwrap();
    // alice stays owner; bob (a former member) and carol join as admins.
    assert_eq!(kinds(&o), ["MemberJoined", "MemberJoined"]);
    let again = w
        .run(CommandKind::AddMembers {
            group: group("team"),
            users: users(&["alice", "carol"]),
            role: Role::Member,
        })
        .unwrap();
    assert_eq!(again.decision.note, Some(Note::AlreadyDone));
    assert_eq!(
        w.run(CommandKind::AddMembers {
            group: group("team"),
            users: vec![],
            role: Role::Member,
        })
        .unwrap_err(),
        DomainError::BatchSize { count: 0, max: 500 }
    );
    w.assert_replay_matches();
}

#[test]
fn removing_a_user_who_never_joined_refuses_the_command_and_former_members_are_skipped() {
    let mut w = World::new(Policy::default().with_max_members_per_command(3));
    w.join("team", "alice", Role::Owner).unwrap();
    w.join("team", "bob", Role::Member).unwrap();
    w.join("team", "carol", Role::Member).unwrap();
    w.leave("team", "carol").unwrap();
    let before = w.state.clone();
    assert_eq!(
        w.run(CommandKind::RemoveMembers {
            group: group("team"),
            users: users(&["bob", "zed"]),
        })
        .unwrap_err(),
        DomainError::NotAMember {
            user: user("zed"),
            group: group("team")
        }
    );
    assert_eq!(w.state, before, "nothing of a refused command happened");
    assert_eq!(
        w.run(CommandKind::RemoveMembers {
            group: group("team"),
            users: users(&["a", "b", "c", "d"]),
        })
        .unwrap_err(),
        DomainError::BatchSize { count: 4, max: 3 }
    );
    let o = w
        .run(CommandKind::RemoveMembers {
            group: group("team"),
            users: users(&["bob", "carol"]),
        })
        .unwrap();
    assert_eq!(kinds(&o), ["MemberLeft"]);
    w.assert_replay_matches();
}
