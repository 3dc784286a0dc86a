//! Spec §4, direct chat: delivery receipts, read receipts, conversation receipts.

mod support;

use receipt_domain::*;
use support::*;

fn chat() -> ConversationId {
    direct("alice", "bob")
}

fn world_with(policy: Policy) -> World {
    let mut w = World::new(policy);
    w.send(chat(), 1, "alice", false).unwrap();
    w
}

#[test]
fn delivery_is_recorded_and_the_sender_notified() {
    let mut w = world_with(Policy::all_receipts_on());
    let out = w.deliver(1, "bob").unwrap();
    assert_eq!(out.decision.events.len(), 1);
    assert_eq!(
        out.notifications,
        vec![Notification {
            to: user("alice"),
            kind: NotificationKind::MessageDelivered {
                conversation: chat(),
                message: msg(1),
                by: user("bob"),
            },
        }]
    );
    assert_eq!(w.status("alice", 1).unwrap().has_deliver_ack, Some(true));
    assert_eq!(w.status("bob", 1).unwrap().has_deliver_ack, Some(true));
}

#[test]
fn second_delivery_changes_nothing_and_notifies_nobody() {
    let mut w = world_with(Policy::all_receipts_on());
    w.deliver(1, "bob").unwrap();
    let again = w.deliver(1, "bob").unwrap();
    assert!(again.decision.events.is_empty());
    assert_eq!(again.decision.note, Some(Note::AlreadyDone));
    assert!(again.notifications.is_empty());
}

#[test]
fn delivery_with_delivery_acks_off_is_rejected() {
    let mut w = world_with(Policy::default());
    assert_eq!(
        w.deliver(1, "bob").err(),
        Some(DomainError::DeliveryAcksDisabled)
    );
    assert_eq!(w.status("alice", 1).unwrap().has_deliver_ack, Some(false));
}

#[test]
fn only_the_recipient_may_deliver() {
    let mut w = world_with(Policy::all_receipts_on());
    assert!(matches!(
        w.deliver(1, "alice"),
        Err(DomainError::OwnMessage { .. })
    ));
    assert!(matches!(
        w.deliver(1, "carol"),
        Err(DomainError::NotARecipient { .. })
    ));
    assert!(matches!(
        w.deliver(99, "bob"),
        Err(DomainError::UnknownMessage(_))
    ));
}

#[test]
fn read_ack_is_recorded_notifies_the_sender_and_clears_unread() {
    let mut w = world_with(Policy::all_receipts_on());
    assert_eq!(w.unread("bob", &chat()), 1);
    let out = w.ack(1, "bob").unwrap();
    assert!(out.notifications.contains(&Notification {
        to: user("alice"),
        kind: NotificationKind::MessageRead {
            conversation: chat(),
            message: msg(1),
            by: user("bob"),
        },
    }));
    assert_eq!(w.unread("bob", &chat()), 0);
    let s = w.status("alice", 1).unwrap();
    assert!(s.has_read_ack);
    assert_eq!(s.has_deliver_ack, Some(true), "a read ack implies delivery");
}

#[test]
fn read_ack_is_idempotent() {
    let mut w = world_with(Policy::all_receipts_on());
    w.ack(1, "bob").unwrap();
    let again = w.ack(1, "bob").unwrap();
    assert!(again.decision.events.is_empty() && again.notifications.is_empty());
}

#[test]
fn read_ack_with_read_acks_off_is_rejected() {
    let mut w = world_with(Policy::default());
    assert_eq!(w.ack(1, "bob").err(), Some(DomainError::ReadAcksDisabled));
    assert_eq!(w.unread("bob", &chat()), 1);
}

#[test]
fn only_the_recipient_may_ack() {
    let mut w = world_with(Policy::all_receipts_on());
    assert!(matches!(
        w.ack(1, "alice"),
        Err(DomainError::OwnMessage { .. })
    ));
    assert!(matches!(
        w.ack(1, "carol"),
        Err(DomainError::NotARecipient { .. })
    ));
}

#[test]
fn read_ack_past_retention_is_rejected() {
    let mut w = world_with(Policy::all_receipts_on().with_message_retention_ms(Some(1_000)));
    w.advance(1_000);
    assert!(
        w.ack(1, "bob").is_ok(),
        "exactly at the retention limit is still retained"
    );
    w.send(chat(), 2, "alice", false).unwrap();
    w.advance(1_001);
    assert!(matches!(
        w.ack(2, "bob"),
        Err(DomainError::MessageExpired {
            age_ms: 1_001,
            retention_ms: 1_000,
            ..
        })
    ));
}

#[test]
fn read_ack_validity_is_forever_by_default() {
    let mut w = world_with(Policy::all_receipts_on());
    w.advance(10 * 365 * DAY_MS);
    assert!(w.ack(1, "bob").is_ok());
}

#[test]
fn conversation_ack_covers_every_message_from_the_peer_so_far_and_none_later() {
    let mut w = world_with(Policy::all_receipts_on());
    w.send(chat(), 2, "alice", false).unwrap();
    w.send(chat(), 3, "bob", false).unwrap();
    let out = w.ack_conversation(chat(), "bob").unwrap();
    assert!(out.notifications.contains(&Notification {
        to: user("alice"),
        kind: NotificationKind::ConversationRead {
            conversation: chat(),
            by: user("bob"),
        },
    }));
    w.send(chat(), 4, "alice", false).unwrap();
    assert!(w.status("alice", 1).unwrap().has_read_ack);
    assert!(w.status("alice", 2).unwrap().has_read_ack);
    assert!(
        !w.status("alice", 4).unwrap().has_read_ack,
        "sent after the ack"
    );
    assert_eq!(w.unread("bob", &chat()), 1);
    assert_eq!(
        w.unread("alice", &chat()),
        1,
        "bob's message to alice is untouched"
    );
}

#[test]
fn conversation_ack_with_nothing_new_is_a_no_op() {
    let mut w = world_with(Policy::all_receipts_on());
    w.ack_conversation(chat(), "bob").unwrap();
    let again = w.ack_conversation(chat(), "bob").unwrap();
    assert!(again.decision.events.is_empty() && again.notifications.is_empty());
    // A conversation nothing was ever recorded in is the same typed error for direct chats
    // and groups, for acks and for mark-read alike (docs/semantics.md).
    assert_eq!(
        w.ack_conversation(direct("bob", "carol"), "bob")
            .unwrap_err(),
        DomainError::UnknownConversation(direct("bob", "carol"))
    );
}

#[test]
fn conversation_ack_cost_does_not_depend_on_messages_covered() {
    // One event and a fold that only moves watermarks: check by the shape of the state, not time.
    let mut w = World::new(Policy::all_receipts_on());
    for m in 0..5_000 {
        w.send(chat(), m, "alice", false).unwrap();
    }
    let out = w.ack_conversation(chat(), "bob").unwrap();
    assert_eq!(out.decision.events.len(), 1);
    assert_eq!(w.unread("bob", &chat()), 0);
    assert!(w.status("alice", 4_999).unwrap().has_read_ack);
    w.assert_replay_matches();
}

#[test]
fn conversation_ack_is_only_for_direct_chats() {
    let mut w = World::new(Policy::all_receipts_on());
    w.join("team", "alice", Role::Owner).unwrap();
    assert_eq!(
        w.ack_conversation(gconv("team"), "alice").err(),
        Some(DomainError::ConversationAckDirectOnly)
    );
}

#[test]
fn conversation_ack_by_an_outsider_is_rejected() {
    let mut w = world_with(Policy::all_receipts_on());
    assert!(matches!(
        w.ack_conversation(chat(), "carol"),
        Err(DomainError::NotAParticipant { .. })
    ));
}

#[test]
fn group_chats_have_no_delivery_receipts() {
    let mut w = World::new(Policy::all_receipts_on());
    w.join("team", "alice", Role::Owner).unwrap();
    w.join("team", "bob", Role::Member).unwrap();
    w.send(gconv("team"), 1, "alice", false).unwrap();
    assert_eq!(
        w.deliver(1, "bob").err(),
        Some(DomainError::GroupDeliveryUnsupported)
    );
    assert_eq!(w.status("alice", 1).unwrap().has_deliver_ack, None);
}

#[test]
fn late_delivery_after_a_read_ack_changes_nothing() {
    let mut w = world_with(Policy::all_receipts_on());
    w.ack(1, "bob").unwrap();
    assert!(w.deliver(1, "bob").unwrap().decision.events.is_empty());
}

#[test]
fn sending_to_a_direct_chat_one_is_not_in_is_rejected() {
    let mut w = World::new(Policy::default());
    assert!(matches!(
        w.send(chat(), 1, "carol", false),
        Err(DomainError::NotAParticipant { .. })
    ));
    assert!(w.history.is_empty());
}

#[test]
fn a_retried_send_is_a_duplicate_and_a_reused_id_is_a_conflict() {
    let mut w = world_with(Policy::default());
    assert!(w
        .send(chat(), 1, "alice", false)
        .unwrap()
        .decision
        .events
        .is_empty());
    assert_eq!(
        w.send(chat(), 1, "bob", false).err(),
        Some(DomainError::MessageIdInUse(msg(1)))
    );
    assert_eq!(w.unread("bob", &chat()), 1);
}
