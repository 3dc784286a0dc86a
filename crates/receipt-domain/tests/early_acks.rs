//! Read acks that arrive before their message (reordered delivery): held, bounded, applied when
//! the message comes, or dropped with a reason.

mod support;

use receipt_domain::*;
use support::*;

fn chat() -> ConversationId {
    direct("ann", "bob")
}

fn ack_in(w: &mut World, c: ConversationId, m: u128, by: &str) -> Result<Outcome, DomainError> {
    w.run(CommandKind::AckMessageReadIn {
        conversation: c,
        message: msg(m),
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
fn an_ack_before_its_message_is_applied_when_the_message_comes() {
    let mut w = World::new(Policy::all_receipts_on());
    let held = ack_in(&mut w, chat(), 1, "bob").unwrap();
    assert_eq!(kinds(&held), ["ReadAckBuffered"]);
    assert_eq!(
        ack_in(&mut w, chat(), 1, "bob").unwrap().decision.note,
        Some(Note::AlreadyDone),
        "held once"
    );
    let sent = w.send(chat(), 1, "ann", false).unwrap();
    assert_eq!(kinds(&sent), ["MessageSent", "ReadAcked"]);
    assert!(sent
        .notifications
        .iter()
        .any(|n| n.to == user("ann") && matches!(n.kind, NotificationKind::MessageRead { .. })));
    assert_eq!(w.unread("bob", &chat()), 0);
    assert!(w.status("ann", 1).unwrap().has_read_ack);
    // Once the message exists, the same command is the single ack.
    assert_eq!(
        ack_in(&mut w, chat(), 1, "bob").unwrap().decision.note,
        Some(Note::AlreadyDone)
    );
    w.assert_replay_matches();
}

#[test]
fn a_held_ack_is_dropped_with_its_reason() {
    let mut w = World::new(Policy::all_receipts_on().with_early_ack_ttl_ms(100));
    w.run(CommandKind::CreateGroup {
        group: group("team"),
        owner: user("ann"),
        members: vec![user("bob")],
    })
    .unwrap();
    ack_in(&mut w, gconv("team"), 1, "bob").unwrap();
    ack_in(&mut w, chat(), 2, "bob").unwrap();
    // Sent without group read receipts: nothing to acknowledge.
    let sent = w.send(gconv("team"), 1, "ann", false).unwrap();
    assert_eq!(kinds(&sent), ["MessageSent", "EarlyAckDropped"]);
    assert!(sent.notifications.iter().any(|n| n.to == user("bob")
        && matches!(
            n.kind,
            NotificationKind::EarlyAckDropped {
                reason: EarlyAckDropReason::GroupAckNotRequested,
                ..
            }
        )));
    assert_eq!(
        w.unread("bob", &gconv("team")),
        1,
        "a dropped ack reads nothing"
    );
    // Too late: the message came after the ack's time to live.
    w.advance(101);
    let late = w.send(chat(), 2, "ann", false).unwrap();
    assert!(late.notifications.iter().any(|n| matches!(
        n.kind,
        NotificationKind::EarlyAckDropped {
            reason: EarlyAckDropReason::Expired,
            ..
        }
    )));
    assert_eq!(w.unread("bob", &chat()), 1);
    w.assert_replay_matches();
}

#[test]
fn the_buffer_is_bounded_and_expired_acks_make_room() {
    let mut w = World::new(
        Policy::all_receipts_on()
            .with_max_early_acks_per_conversation(1)
            .with_early_ack_ttl_ms(100),
    );
    ack_in(&mut w, chat(), 1, "bob").unwrap();
    assert_eq!(
        ack_in(&mut w, chat(), 2, "bob").unwrap_err(),
        DomainError::EarlyAckBufferFull {
            conversation: chat(),
            max: 1
        }
    );
    w.advance(101);
    let o = ack_in(&mut w, chat(), 2, "bob").unwrap();
    assert_eq!(kinds(&o), ["EarlyAckDropped", "ReadAckBuffered"]);
    w.assert_replay_matches();
}

#[test]
fn an_ack_naming_another_conversation_or_by_a_stranger_is_refused() {
    let mut w = World::new(Policy::all_receipts_on());
    w.send(direct("ann", "cat"), 1, "ann", false).unwrap();
    assert_eq!(
        ack_in(&mut w, chat(), 1, "bob").unwrap_err(),
        DomainError::MessageNotInConversation {
            message: msg(1),
            conversation: chat()
        }
    );
    assert!(matches!(
        ack_in(&mut w, chat(), 2, "cat"),
        Err(DomainError::NotAParticipant { .. })
    ));
    assert!(matches!(
        ack_in(&mut w, gconv("team"), 2, "bob"),
        Err(DomainError::NotAMember { .. })
    ));
}

#[test]
fn the_total_across_conversations_is_bounded_and_the_own_expired_acks_make_room() {
    let mut w = World::new(
        Policy::all_receipts_on()
            .with_max_early_acks_total(2)
            .with_early_ack_ttl_ms(100),
    );
    let other = direct("ann", "cat");
    ack_in(&mut w, chat(), 1, "bob").unwrap();
    w.advance(50);
    ack_in(&mut w, other.clone(), 2, "cat").unwrap();
    // Given two held acks in two conversations, a third in either is refused for the total.
    assert_eq!(
        ack_in(&mut w, other.clone(), 3, "ann").unwrap_err(),
        DomainError::EarlyAcksFull { max_total: 2 }
    );
    assert_eq!(HeldEarlyAcks::of(&w.state).total(), 2);
    // When the first expires, it makes room only in its own conversation: the other
    // conversation's command does not drop it (the engine's sweep does, docs/semantics.md).
    w.advance(60);
    assert_eq!(
        ack_in(&mut w, other.clone(), 3, "ann").unwrap_err(),
        DomainError::EarlyAcksFull { max_total: 2 }
    );
    let o = ack_in(&mut w, chat(), 4, "ann").unwrap();
    assert_eq!(kinds(&o), ["EarlyAckDropped", "ReadAckBuffered"]);
    let held = HeldEarlyAcks::of(&w.state);
    assert_eq!((held.total(), held.in_conversation(&chat())), (2, 1));
    w.assert_replay_matches();
}

#[test]
fn expire_early_acks_drops_only_the_expired_ones_and_tells_their_readers() {
    let mut w = World::new(Policy::all_receipts_on().with_early_ack_ttl_ms(100));
    ack_in(&mut w, chat(), 1, "bob").unwrap();
    w.advance(60);
    ack_in(&mut w, chat(), 2, "ann").unwrap();
    let expire = |w: &mut World| {
        w.run(CommandKind::ExpireEarlyAcks {
            conversation: chat(),
        })
    };
    assert_eq!(
        expire(&mut w).unwrap().decision.note,
        Some(Note::AlreadyDone)
    );
    w.advance(60);
    let o = expire(&mut w).unwrap();
    assert_eq!(kinds(&o), ["EarlyAckDropped"]);
    assert_eq!(
        o.notifications,
        vec![Notification {
            to: user("bob"),
            kind: NotificationKind::EarlyAckDropped {
                conversation: chat(),
                message: msg(1),
                reason: EarlyAckDropReason::Expired,
            },
        }]
    );
    assert_eq!(w.state.early_acks_held_in(&chat()), 1);
    // The message the dropped ack was for comes: nobody's ack is applied to it.
    let sent = w.send(chat(), 1, "ann", false).unwrap();
    assert_eq!(kinds(&sent), ["MessageSent"]);
    w.assert_replay_matches();
}
