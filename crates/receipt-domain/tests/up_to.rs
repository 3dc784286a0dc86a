//! "Read up to message X": conversation acks and mark-read with a position.

mod support;

use receipt_domain::*;
use support::*;

fn chat() -> ConversationId {
    direct("ann", "bob")
}

fn mark_up_to(w: &mut World, c: ConversationId, by: &str, m: u128) -> Result<Outcome, DomainError> {
    w.run(CommandKind::MarkConversationReadUpTo {
        conversation: c,
        reader: user(by),
        up_to: msg(m),
    })
}

fn ack_up_to(w: &mut World, by: &str, m: u128) -> Result<Outcome, DomainError> {
    w.run(CommandKind::AckConversationReadUpTo {
        conversation: chat(),
        reader: user(by),
        up_to: msg(m),
    })
}

#[test]
fn reading_up_to_a_message_reads_it_and_everything_before_and_nothing_after() {
    let mut w = World::new(Policy::all_receipts_on());
    for m in 1..=5 {
        w.send(chat(), m, if m == 3 { "bob" } else { "ann" }, false)
            .unwrap();
    }
    w.mark(2, "bob").unwrap();
    assert_eq!(w.unread("bob", &chat()), 3, "1, 4 and 5 (3 is bob's own)");
    mark_up_to(&mut w, chat(), "bob", 4).unwrap();
    assert_eq!(w.unread("bob", &chat()), 1, "5 is after the position");
    assert_eq!(
        w.state.first_unread_message(&user("bob"), &chat()),
        Some(msg(5))
    );
    assert_eq!(
        mark_up_to(&mut w, chat(), "bob", 2).unwrap().decision.note,
        Some(Note::AlreadyDone),
        "nothing unread up to an earlier position"
    );
    assert!(
        !w.status("ann", 4).unwrap().has_read_ack,
        "a private read sends no receipt"
    );
    w.assert_replay_matches();
}

#[test]
fn acknowledging_up_to_a_message_tells_the_peer_where() {
    let mut w = World::new(Policy::all_receipts_on());
    for m in 1..=4 {
        w.send(chat(), m, "ann", false).unwrap();
    }
    w.advance(10);
    let o = ack_up_to(&mut w, "bob", 3).unwrap();
    assert!(o.notifications.iter().any(|n| n.to == user("ann")
        && matches!(&n.kind, NotificationKind::ConversationReadUpTo { up_to, .. } if *up_to == msg(3))));
    let acked_at = w.now_ms;
    for m in 1..=3 {
        let status = w.status("ann", m).unwrap();
        assert!(status.has_read_ack, "message {m}");
        assert_eq!(status.read_acked_at_ms, Some(acked_at));
    }
    assert!(!w.status("ann", 4).unwrap().has_read_ack);
    assert_eq!(w.unread("bob", &chat()), 1);
    assert_eq!(
        ack_up_to(&mut w, "bob", 2).unwrap().decision.note,
        Some(Note::AlreadyDone)
    );
    // The rest of the conversation is still waiting: a full conversation ack is not a no-op.
    let rest = w.ack_conversation(chat(), "bob").unwrap();
    assert_eq!(rest.decision.events.len(), 1);
    w.assert_replay_matches();
}

#[test]
fn the_position_must_be_a_message_of_the_conversation() {
    let mut w = World::new(Policy::all_receipts_on());
    w.send(chat(), 1, "ann", false).unwrap();
    w.send(direct("ann", "cat"), 2, "ann", false).unwrap();
    assert_eq!(
        mark_up_to(&mut w, chat(), "bob", 2).unwrap_err(),
        DomainError::MessageNotInConversation {
            message: msg(2),
            conversation: chat()
        }
    );
    assert_eq!(
        ack_up_to(&mut w, "bob", 9).unwrap_err(),
        DomainError::UnknownMessage(msg(9))
    );
    assert!(matches!(
        w.run(CommandKind::AckConversationReadUpTo {
            conversation: gconv("team"),
            reader: user("bob"),
            up_to: msg(1),
        }),
        Err(DomainError::ConversationAckDirectOnly)
    ));
    assert_eq!(w.unread("bob", &chat()), 1);
}
