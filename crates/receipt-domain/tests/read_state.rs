//! Spec §4, read state and unread counts, per-viewer status, notifications to the reader's devices.

mod support;

use receipt_domain::*;
use support::*;

fn chat() -> ConversationId {
    direct("alice", "bob")
}

#[test]
fn unread_counts_messages_from_others_not_yet_read() {
    let mut w = World::new(Policy::default());
    w.send(chat(), 1, "alice", false).unwrap();
    w.send(chat(), 2, "alice", false).unwrap();
    w.send(chat(), 3, "bob", false).unwrap();
    assert_eq!(w.unread("bob", &chat()), 2);
    assert_eq!(w.unread("alice", &chat()), 1);
    assert_eq!(
        w.unread("carol", &chat()),
        0,
        "an outsider has nothing unread"
    );
}

#[test]
fn group_unread_counts_only_messages_sent_while_a_member() {
    let mut w = World::new(Policy::default());
    w.join("team", "alice", Role::Owner).unwrap();
    w.send(gconv("team"), 1, "alice", false).unwrap();
    w.join("team", "bob", Role::Member).unwrap();
    w.send(gconv("team"), 2, "alice", false).unwrap();
    w.send(gconv("team"), 3, "alice", false).unwrap();
    w.leave("team", "bob").unwrap();
    w.send(gconv("team"), 4, "alice", false).unwrap();
    assert_eq!(w.unread("bob", &gconv("team")), 2, "messages 2 and 3");
    w.join("team", "bob", Role::Member).unwrap();
    w.send(gconv("team"), 5, "alice", false).unwrap();
    assert_eq!(
        w.unread("bob", &gconv("team")),
        3,
        "2, 3 and 5; never 1 or 4"
    );
    assert!(matches!(
        w.mark(4, "bob"),
        Err(DomainError::NotARecipient { .. })
    ));
}

#[test]
fn mark_read_works_whatever_the_receipt_settings_and_tells_the_sender_nothing() {
    let mut w = World::new(Policy::default());
    w.send(chat(), 1, "alice", false).unwrap();
    let out = w.mark(1, "bob").unwrap();
    assert_eq!(
        out.notifications,
        vec![Notification {
            to: user("bob"),
            kind: NotificationKind::ReadStateChanged {
                conversation: chat(),
                unread: 0
            },
        }],
        "only the reader's own devices are told"
    );
    assert_eq!(w.unread("bob", &chat()), 0);
    let s = w.status("alice", 1).unwrap();
    assert!(!s.has_read_ack, "a private read never produces a receipt");
    assert!(w.status("bob", 1).unwrap().has_read);
}

#[test]
fn mark_read_is_idempotent_and_own_messages_are_always_read() {
    let mut w = World::new(Policy::default());
    w.send(chat(), 1, "alice", false).unwrap();
    w.mark(1, "bob").unwrap();
    assert!(w.mark(1, "bob").unwrap().decision.events.is_empty());
    assert!(w.mark(1, "alice").unwrap().decision.events.is_empty());
    assert!(w.status("alice", 1).unwrap().has_read);
    assert!(matches!(
        w.mark(1, "carol"),
        Err(DomainError::NotARecipient { .. })
    ));
}

#[test]
fn mark_all_read_clears_the_conversation_and_nothing_after_it() {
    let mut w = World::new(Policy::default());
    for m in 1..=3 {
        w.send(chat(), m, "alice", false).unwrap();
    }
    w.mark(2, "bob").unwrap();
    w.mark_all(chat(), "bob").unwrap();
    assert_eq!(w.unread("bob", &chat()), 0);
    assert!(w
        .mark_all(chat(), "bob")
        .unwrap()
        .decision
        .events
        .is_empty());
    w.send(chat(), 4, "alice", false).unwrap();
    assert_eq!(w.unread("bob", &chat()), 1);
    assert!(!w.status("bob", 4).unwrap().has_read);
    assert!(w.status("bob", 3).unwrap().has_read);
    assert!(matches!(
        w.mark_all(chat(), "carol"),
        Err(DomainError::NotAParticipant { .. })
    ));
}

#[test]
fn former_member_keeps_the_conversation_and_may_clear_it() {
    let mut w = World::new(Policy::default());
    w.join("team", "alice", Role::Owner).unwrap();
    w.join("team", "bob", Role::Member).unwrap();
    w.send(gconv("team"), 1, "alice", false).unwrap();
    w.leave("team", "bob").unwrap();
    assert_eq!(
        w.state.conversations(&user("bob")),
        vec![ConversationUnread {
            conversation: gconv("team"),
            unread: 1,
            mentions: 0,
            mode: NotificationMode::All,
            thread_unread: 0,
            last_message_at_ms: w.now_ms,
        }]
    );
    w.mark_all(gconv("team"), "bob").unwrap();
    assert_eq!(w.unread("bob", &gconv("team")), 0);
    assert!(matches!(
        w.mark_all(gconv("team"), "mallory"),
        Err(DomainError::NotAMember { .. })
    ));
}

#[test]
fn badge_and_conversation_list_add_up_every_conversation() {
    let mut w = World::new(Policy::default());
    w.send(chat(), 1, "alice", false).unwrap();
    w.send(direct("bob", "carol"), 2, "carol", false).unwrap();
    w.send(direct("bob", "carol"), 3, "carol", false).unwrap();
    w.join("team", "alice", Role::Owner).unwrap();
    w.join("team", "bob", Role::Member).unwrap();
    w.send(gconv("team"), 4, "alice", false).unwrap();
    assert_eq!(w.state.total_unread(&user("bob")), 4);
    assert_eq!(
        w.state.conversations(&user("bob")),
        vec![
            ConversationUnread {
                conversation: chat(),
                unread: 1,
                mentions: 0,
                mode: NotificationMode::All,
                thread_unread: 0,
                last_message_at_ms: w.now_ms,
            },
            ConversationUnread {
                conversation: direct("bob", "carol"),
                unread: 2,
                mentions: 0,
                mode: NotificationMode::All,
                thread_unread: 0,
                last_message_at_ms: w.now_ms,
            },
            ConversationUnread {
                conversation: gconv("team"),
                unread: 1,
                mentions: 0,
                mode: NotificationMode::All,
                thread_unread: 0,
                last_message_at_ms: w.now_ms,
            },
        ]
    );
    assert_eq!(w.state.total_unread(&user("nobody")), 0);
}

#[test]
fn status_table_for_direct_messages() {
    let mut w = World::new(Policy::all_receipts_on());
    w.send(chat(), 1, "alice", false).unwrap();
    let fresh = MessageStatus {
        has_deliver_ack: Some(false),
        has_read_ack: false,
        has_read: true,
        group_ack_count: None,
        read_acked_at_ms: None,
        recalled: false,
    };
    assert_eq!(w.status("alice", 1), Ok(fresh));
    assert_eq!(
        w.status("bob", 1),
        Ok(MessageStatus {
            has_read: false,
            ..fresh
        })
    );
    w.deliver(1, "bob").unwrap();
    assert_eq!(w.status("bob", 1).unwrap().has_deliver_ack, Some(true));
    w.advance(5);
    w.ack(1, "bob").unwrap();
    let acked = MessageStatus {
        has_deliver_ack: Some(true),
        has_read_ack: true,
        has_read: true,
        group_ack_count: None,
        read_acked_at_ms: Some(w.now_ms),
        recalled: false,
    };
    assert_eq!(w.status("alice", 1), Ok(acked));
    assert_eq!(w.status("bob", 1), Ok(acked));
    assert!(matches!(
        w.status("carol", 1),
        Err(QueryError::NotARecipient { .. })
    ));
    assert!(matches!(
        w.status("bob", 9),
        Err(QueryError::UnknownMessage(_))
    ));
}

#[test]
fn status_table_for_group_messages() {
    let mut w = World::new(Policy::all_receipts_on());
    w.join("team", "alice", Role::Owner).unwrap();
    w.join("team", "bob", Role::Member).unwrap();
    w.send(gconv("team"), 1, "alice", true).unwrap();
    w.send(gconv("team"), 2, "alice", false).unwrap();
    assert_eq!(
        w.status("alice", 1),
        Ok(MessageStatus {
            has_deliver_ack: None,
            has_read_ack: true,
            has_read: true,
            group_ack_count: Some(0),
            read_acked_at_ms: None,
            recalled: false,
        })
    );
    assert_eq!(
        w.status("alice", 2).unwrap().group_ack_count,
        None,
        "sent without receipts"
    );
    w.mark(1, "bob").unwrap();
    assert_eq!(
        w.status("bob", 1),
        Ok(MessageStatus {
            has_deliver_ack: None,
            has_read_ack: false,
            has_read: true,
            group_ack_count: None,
            read_acked_at_ms: None,
            recalled: false,
        })
    );
    w.group_ack(1, "bob").unwrap();
    assert!(w.status("bob", 1).unwrap().has_read_ack);
    w.join("team", "carol", Role::Member).unwrap();
    assert!(matches!(
        w.status("carol", 1),
        Err(QueryError::NotARecipient { .. })
    ));
}

#[test]
fn message_to_a_3000_member_group_is_unread_for_every_member_but_the_sender() {
    let mut w = World::new(Policy::all_receipts_on());
    for i in 0..3_000 {
        w.join("big", &format!("u{i}"), Role::Member).unwrap();
    }
    let before = w.state.clone();
    w.send(gconv("big"), 1, "u0", true).unwrap();
    // Unread moves for every member at once; the fold itself only writes the sender's state.
    assert_eq!(w.unread("u2999", &gconv("big")), 1);
    let changed = (0..3_000)
        .filter(|i| {
            let c = gconv("big");
            let u = user(&format!("u{i}"));
            before.unread_count(&u, &c) + 1 != w.state.unread_count(&u, &c)
        })
        .count();
    assert_eq!(changed, 1, "only the sender's count stays put");
    w.assert_replay_matches();
}

#[test]
fn invalid_ids_are_typed_errors() {
    assert!(matches!(UserId::new(""), Err(InvalidInput::Empty { .. })));
    assert!(matches!(
        GroupId::new("a\u{7}"),
        Err(InvalidInput::ControlCharacter { .. })
    ));
    assert!(matches!(
        ConversationId::direct(user("a"), user("a")),
        Err(InvalidInput::SelfConversation { .. })
    ));
}

#[test]
fn a_policy_that_means_nothing_is_refused() {
    let mut w = World::new(Policy::default().with_max_group_size(0));
    assert!(matches!(
        w.join("team", "alice", Role::Owner),
        Err(DomainError::InvalidInput(InvalidInput::Policy { .. }))
    ));
}

#[test]
fn conversation_summary_lists_participants_with_their_unread() {
    let mut w = World::new(Policy::default());
    w.join("team", "alice", Role::Owner).unwrap();
    w.join("team", "bob", Role::Member).unwrap();
    w.send(gconv("team"), 1, "alice", false).unwrap();
    w.leave("team", "bob").unwrap();
    let s = w.state.conversation_summary(&gconv("team")).unwrap();
    assert_eq!((s.messages, s.members), (1, 1));
    assert_eq!(
        s.participants,
        vec![
            ParticipantSummary {
                user: user("alice"),
                unread: 0,
                current: true,
                role: Some(Role::Owner)
            },
            ParticipantSummary {
                user: user("bob"),
                unread: 1,
                current: false,
                role: None
            },
        ]
    );
    assert!(w.state.conversation_summary(&gconv("none")).is_none());
    assert_eq!(
        w.state.users().map(|u| u.as_str()).collect::<Vec<_>>(),
        ["alice", "bob"]
    );
}
