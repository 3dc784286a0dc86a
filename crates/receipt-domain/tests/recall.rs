//! Recall: who may recall, until when, and what a recall does to counts and lists. The trap is
//! Matrix's: a redacted event still counted as unread.

mod support;

use receipt_domain::*;
use support::*;

fn chat() -> ConversationId {
    direct("ann", "bob")
}

fn recall(w: &mut World, m: u128, by: &str) -> Result<Outcome, DomainError> {
    w.run(CommandKind::RecallMessage {
        message: msg(m),
        by: user(by),
    })
}

#[test]
fn a_sender_recalls_within_the_window_and_the_unread_count_drops() {
    let mut w = World::new(Policy::all_receipts_on());
    w.send(chat(), 1, "ann", false).unwrap();
    w.send(chat(), 2, "ann", false).unwrap();
    assert_eq!(w.unread("bob", &chat()), 2);
    w.advance(60_000);
    let o = recall(&mut w, 1, "ann").unwrap();
    assert_eq!(o.decision.events.len(), 1);
    assert_eq!(w.unread("bob", &chat()), 1);
    // The peer, and the sender's other devices, are told.
    let told: Vec<&UserId> = o.notifications.iter().map(|n| &n.to).collect();
    assert_eq!(told, [&user("bob"), &user("ann")]);
    assert!(o
        .notifications
        .iter()
        .all(|n| matches!(n.kind, NotificationKind::MessageRecalled { .. })));
    assert!(w.status("bob", 1).unwrap().recalled);
    // Nothing more can happen to it; recalling it again is a no-op.
    assert_eq!(
        w.ack(1, "bob").unwrap_err(),
        DomainError::MessageRecalled(msg(1))
    );
    assert_eq!(
        w.mark(1, "bob").unwrap_err(),
        DomainError::MessageRecalled(msg(1))
    );
    assert_eq!(
        w.deliver(1, "bob").unwrap_err(),
        DomainError::MessageRecalled(msg(1))
    );
    assert_eq!(
        recall(&mut w, 1, "ann").unwrap().decision.note,
        Some(Note::AlreadyDone)
    );
    w.assert_replay_matches();
}

#[test]
fn a_late_recall_and_a_recall_by_someone_else_are_refused() {
    let mut w = World::new(Policy::all_receipts_on().with_recall_window_ms(1_000));
    w.send(chat(), 1, "ann", false).unwrap();
    assert_eq!(
        recall(&mut w, 1, "bob").unwrap_err(),
        DomainError::RecallNotPermitted {
            user: user("bob"),
            message: msg(1)
        }
    );
    w.advance(1_001);
    assert_eq!(
        recall(&mut w, 1, "ann").unwrap_err(),
        DomainError::RecallWindowExpired {
            message: msg(1),
            age_ms: 1_001,
            window_ms: 1_000
        }
    );
    assert_eq!(
        recall(&mut w, 9, "ann").unwrap_err(),
        DomainError::UnknownMessage(msg(9))
    );
    assert_eq!(
        w.unread("bob", &chat()),
        1,
        "nothing of a refused recall happened"
    );
}

#[test]
fn in_a_group_only_those_who_had_not_read_it_lose_an_unread_and_no_count_goes_below_zero() {
    let mut w = World::new(Policy::all_receipts_on().with_recall_window_ms(10));
    w.run(CommandKind::CreateGroup {
        group: group("team"),
        owner: user("olga"),
        members: ["ann", "bob", "cat"].iter().map(|u| user(u)).collect(),
    })
    .unwrap();
    w.run(CommandKind::SetRole {
        group: group("team"),
        user: user("bob"),
        role: Role::Admin,
    })
    .unwrap();
    w.send(gconv("team"), 1, "ann", true).unwrap();
    w.send(gconv("team"), 2, "ann", false).unwrap();
    w.group_ack(1, "cat").unwrap(); // cat read message 1
    w.leave("team", "olga").unwrap(); // olga left, message 1 still unread for her
    assert_eq!(
        [
            w.unread("bob", &gconv("team")),
            w.unread("cat", &gconv("team")),
            w.unread("olga", &gconv("team"))
        ],
        [2, 1, 2]
    );
    w.advance(DAY_MS); // far past the sender's window: the admin may still recall
    assert!(matches!(
        recall(&mut w, 1, "cat"),
        Err(DomainError::RecallNotPermitted { .. })
    ));
    let o = recall(&mut w, 1, "bob").unwrap();
    let told: Vec<&UserId> = o.notifications.iter().map(|n| &n.to).collect();
    assert_eq!(
        told,
        [&user("ann"), &user("bob")],
        "the sender and the admin"
    );
    assert_eq!(
        [
            w.unread("bob", &gconv("team")),
            w.unread("cat", &gconv("team")),
            w.unread("olga", &gconv("team"))
        ],
        [1, 1, 1],
        "cat had read it: her count stays"
    );
    assert_eq!(
        w.unread("ann", &gconv("team")),
        0,
        "the sender's own message never counted"
    );
    // It leaves the reader list and the count.
    assert_eq!(
        w.ack_count("ann", 1),
        Err(QueryError::MessageRecalled(msg(1)))
    );
    assert_eq!(w.status("ann", 1).unwrap().group_ack_count, None);
    // Reading everything settles it; later messages count as usual.
    w.mark_all(gconv("team"), "bob").unwrap();
    assert_eq!(w.unread("bob", &gconv("team")), 0);
    w.send(gconv("team"), 3, "ann", false).unwrap();
    assert_eq!(w.unread("bob", &gconv("team")), 1);
    assert_eq!(
        w.state.first_unread_message(&user("cat"), &gconv("team")),
        Some(msg(2))
    );
    w.assert_replay_matches();
}

#[test]
fn a_recalled_message_no_longer_waits_for_a_conversation_ack() {
    let mut w = World::new(Policy::all_receipts_on());
    w.send(chat(), 1, "ann", false).unwrap();
    recall(&mut w, 1, "ann").unwrap();
    assert_eq!(
        w.ack_conversation(chat(), "bob").unwrap().decision.note,
        Some(Note::AlreadyDone),
        "nothing left to acknowledge"
    );
    assert_eq!(w.unread("bob", &chat()), 0);
}
