//! Spec §4, group chat: needGroupAck, group read acks, ack count, paged reader list, visibility.

mod support;

use receipt_domain::*;
use support::*;

fn team() -> ConversationId {
    gconv("team")
}

/// A group of `alice` (owner), `bob` (admin), `carol` and `dave` (members).
fn world_with(policy: Policy) -> World {
    let mut w = World::new(policy);
    w.join("team", "alice", Role::Owner).unwrap();
    w.join("team", "bob", Role::Admin).unwrap();
    w.join("team", "carol", Role::Member).unwrap();
    w.join("team", "dave", Role::Member).unwrap();
    w
}

fn declined(w: &mut World, from: &str) -> Option<Note> {
    w.send(team(), 1, from, true).unwrap().decision.note
}

#[test]
fn message_needing_acks_is_honoured_when_everything_allows_it() {
    let mut w = world_with(Policy::all_receipts_on());
    assert_eq!(declined(&mut w, "carol"), None);
    assert_eq!(w.ack_count("carol", 1), Ok(0));
}

#[test]
fn message_to_oversized_group_is_sent_without_acks() {
    let mut w = world_with(Policy::all_receipts_on().with_max_group_size(3));
    assert_eq!(
        declined(&mut w, "alice"),
        Some(Note::GroupAckDeclined(GroupAckDeclined::GroupTooLarge {
            members: 4,
            max_group_size: 3
        }))
    );
    assert_eq!(w.unread("bob", &team()), 1, "the message is still sent");
    assert_eq!(
        w.group_ack(1, "bob").err(),
        Some(DomainError::GroupAckNotRequested(msg(1)))
    );
}

#[test]
fn group_at_exactly_the_cap_gets_acks() {
    let mut w = world_with(Policy::all_receipts_on().with_max_group_size(4));
    assert_eq!(declined(&mut w, "alice"), None);
}

#[test]
fn message_needing_acks_is_sent_without_them_when_the_feature_is_off() {
    let mut w = world_with(Policy::all_receipts_on().with_group_read_receipts(false));
    assert_eq!(
        declined(&mut w, "alice"),
        Some(Note::GroupAckDeclined(GroupAckDeclined::FeatureDisabled))
    );
    let mut w = world_with(Policy::default());
    assert_eq!(
        declined(&mut w, "alice"),
        Some(Note::GroupAckDeclined(GroupAckDeclined::ReadAcksDisabled))
    );
}

#[test]
fn plain_member_may_not_request_acks_when_restricted_to_owner_and_admins() {
    let policy =
        Policy::all_receipts_on().with_group_ack_requesters(GroupAckRequesters::OwnerAndAdmins);
    let mut w = world_with(policy.clone());
    assert_eq!(
        declined(&mut w, "carol"),
        Some(Note::GroupAckDeclined(GroupAckDeclined::SenderNotPermitted))
    );
    let mut w = world_with(policy);
    assert_eq!(declined(&mut w, "bob"), None, "admins may");
}

#[test]
fn sending_into_a_group_one_is_not_in_is_rejected() {
    let mut w = world_with(Policy::all_receipts_on());
    assert!(matches!(
        w.send(team(), 1, "mallory", false),
        Err(DomainError::NotAMember { .. })
    ));
}

#[test]
fn each_member_counts_once_and_the_sender_is_told_the_new_count() {
    let mut w = world_with(Policy::all_receipts_on());
    w.send(team(), 1, "alice", true).unwrap();
    let out = w.group_ack(1, "bob").unwrap();
    assert!(out.notifications.contains(&Notification {
        to: user("alice"),
        kind: NotificationKind::GroupMessageRead {
            conversation: team(),
            message: msg(1),
            by: user("bob"),
            count: 1,
        },
    }));
    assert!(w.group_ack(1, "bob").unwrap().decision.events.is_empty());
    w.group_ack(1, "carol").unwrap();
    assert_eq!(w.ack_count("alice", 1), Ok(2));
    let s = w.status("bob", 1).unwrap();
    assert!(s.has_read_ack && s.has_read);
    assert_eq!(w.unread("bob", &team()), 0, "an ack also clears unread");
}

#[test]
fn sender_cannot_ack_its_own_group_message() {
    let mut w = world_with(Policy::all_receipts_on());
    w.send(team(), 1, "alice", true).unwrap();
    assert!(matches!(
        w.group_ack(1, "alice"),
        Err(DomainError::OwnMessage { .. })
    ));
}

#[test]
fn group_ack_by_non_member_late_joiner_or_leaver_is_rejected() {
    let mut w = world_with(Policy::all_receipts_on());
    w.send(team(), 1, "alice", true).unwrap();
    assert!(matches!(
        w.group_ack(1, "mallory"),
        Err(DomainError::NotAMember { .. })
    ));
    w.join("team", "erin", Role::Member).unwrap();
    assert!(matches!(
        w.group_ack(1, "erin"),
        Err(DomainError::NotARecipient { .. })
    ));
    w.leave("team", "dave").unwrap();
    assert!(matches!(
        w.group_ack(1, "dave"),
        Err(DomainError::NotAMember { .. })
    ));
    assert_eq!(w.ack_count("alice", 1), Ok(0));
}

#[test]
fn member_who_left_and_came_back_may_ack_what_was_sent_while_a_member() {
    let mut w = world_with(Policy::all_receipts_on());
    w.send(team(), 1, "alice", true).unwrap();
    w.leave("team", "dave").unwrap();
    w.send(team(), 2, "alice", true).unwrap();
    w.join("team", "dave", Role::Member).unwrap();
    assert!(w.group_ack(1, "dave").is_ok());
    assert!(matches!(
        w.group_ack(2, "dave"),
        Err(DomainError::NotARecipient { .. })
    ));
}

#[test]
fn group_ack_after_validity_window_is_rejected() {
    let mut w = world_with(Policy::all_receipts_on());
    w.send(team(), 1, "alice", true).unwrap();
    w.send(team(), 2, "alice", true).unwrap();
    w.advance(3 * DAY_MS);
    assert!(
        w.group_ack(1, "bob").is_ok(),
        "exactly 3 days is still valid"
    );
    w.advance(1);
    assert!(matches!(
        w.group_ack(2, "bob"),
        Err(DomainError::AckExpired { validity_ms, .. }) if validity_ms == 3 * DAY_MS
    ));
    assert_eq!(w.ack_count("alice", 2), Ok(0), "nothing recorded");
    assert_eq!(w.unread("bob", &team()), 1, "nothing read either");
}

#[test]
fn group_acks_need_the_feature_and_read_acks_on_when_acking() {
    let mut w = world_with(Policy::all_receipts_on());
    w.send(team(), 1, "alice", true).unwrap();
    w.policy.group_read_receipts = false;
    assert_eq!(
        w.group_ack(1, "bob").err(),
        Some(DomainError::GroupReadReceiptsDisabled)
    );
    w.policy.require_read_ack = false;
    assert_eq!(
        w.group_ack(1, "bob").err(),
        Some(DomainError::ReadAcksDisabled)
    );
}

#[test]
fn group_ack_on_a_direct_message_is_rejected() {
    let mut w = World::new(Policy::all_receipts_on());
    w.send(direct("alice", "bob"), 1, "alice", false).unwrap();
    assert_eq!(
        w.group_ack(1, "bob").err(),
        Some(DomainError::NotAGroupMessage(msg(1)))
    );
    assert_eq!(
        w.ack_count("alice", 1),
        Err(QueryError::GroupAckNotRequested(msg(1)))
    );
}

#[test]
fn reader_list_is_paged_in_ack_order_with_reader_and_time() {
    let mut w = world_with(Policy::all_receipts_on());
    w.send(team(), 1, "alice", true).unwrap();
    for (reader, delay) in [("dave", 10), ("bob", 20), ("carol", 30)] {
        w.advance(delay);
        w.group_ack(1, reader).unwrap();
    }
    let p = w.policy.clone();
    let first = w
        .state
        .fetch_group_acks(&p, &user("alice"), &msg(1), None, 2)
        .unwrap();
    assert_eq!(
        first.entries,
        vec![
            GroupAckEntry {
                reader: user("dave"),
                at_ms: 1_000_010
            },
            GroupAckEntry {
                reader: user("bob"),
                at_ms: 1_000_030
            },
        ]
    );
    assert_eq!(first.next, Some(AckCursor(2)));
    let second = w
        .state
        .fetch_group_acks(&p, &user("alice"), &msg(1), first.next, 2)
        .unwrap();
    assert_eq!(
        second.entries,
        vec![GroupAckEntry {
            reader: user("carol"),
            at_ms: 1_000_060
        }]
    );
    assert_eq!(second.next, None);
}

#[test]
fn reader_list_rejects_bad_page_sizes_and_cursors() {
    let mut w = world_with(Policy::all_receipts_on());
    w.send(team(), 1, "alice", true).unwrap();
    let p = w.policy.clone();
    let fetch = |cursor, size| {
        w.state
            .fetch_group_acks(&p, &user("alice"), &msg(1), cursor, size)
    };
    assert!(matches!(
        fetch(None, 0),
        Err(QueryError::InvalidInput(InvalidInput::PageSize { .. }))
    ));
    assert!(matches!(
        fetch(None, MAX_ACK_PAGE_SIZE + 1),
        Err(QueryError::InvalidInput(InvalidInput::PageSize { .. }))
    ));
    assert!(matches!(
        fetch(Some(AckCursor(5)), 10),
        Err(QueryError::InvalidInput(InvalidInput::Cursor {
            cursor: 5,
            len: 0
        }))
    ));
}

#[test]
fn ack_count_and_readers_are_visible_to_the_sender_only_by_default() {
    let mut w = world_with(Policy::all_receipts_on());
    w.send(team(), 1, "alice", true).unwrap();
    w.group_ack(1, "bob").unwrap();
    assert_eq!(w.ack_count("alice", 1), Ok(1));
    assert!(matches!(
        w.ack_count("bob", 1),
        Err(QueryError::Forbidden { .. })
    ));
    assert!(matches!(
        w.ack_count("mallory", 1),
        Err(QueryError::Forbidden { .. })
    ));
    let p = w.policy.clone();
    assert!(matches!(
        w.state
            .fetch_group_acks(&p, &user("carol"), &msg(1), None, 10),
        Err(QueryError::Forbidden { .. })
    ));
    assert_eq!(w.status("bob", 1).unwrap().group_ack_count, None);
    assert_eq!(w.status("alice", 1).unwrap().group_ack_count, Some(1));
}

#[test]
fn ack_count_is_visible_to_every_current_member_when_policy_opens_it() {
    let mut w =
        world_with(Policy::all_receipts_on().with_group_ack_visibility(AckVisibility::AllMembers));
    w.send(team(), 1, "alice", true).unwrap();
    w.group_ack(1, "bob").unwrap();
    assert_eq!(w.ack_count("carol", 1), Ok(1));
    assert_eq!(w.status("carol", 1).unwrap().group_ack_count, Some(1));
    w.leave("team", "carol").unwrap();
    assert!(matches!(
        w.ack_count("carol", 1),
        Err(QueryError::Forbidden { .. })
    ));
    assert!(matches!(
        w.ack_count("mallory", 1),
        Err(QueryError::Forbidden { .. })
    ));
}

#[test]
fn ack_count_never_exceeds_members_at_send_time() {
    let mut w = world_with(Policy::all_receipts_on());
    w.send(team(), 1, "alice", true).unwrap();
    for late in ["erin", "frank", "gina"] {
        w.join("team", late, Role::Member).unwrap();
        assert!(w.group_ack(1, late).is_err());
    }
    for member in ["bob", "carol", "dave", "bob"] {
        let _ = w.group_ack(1, member);
    }
    assert_eq!(
        w.ack_count("alice", 1),
        Ok(3),
        "4 members at send time, minus the sender"
    );
}

#[test]
fn changing_the_policy_never_rewrites_history() {
    let mut w = world_with(Policy::all_receipts_on());
    w.send(team(), 1, "alice", true).unwrap();
    w.group_ack(1, "bob").unwrap();
    w.policy = Policy::default();
    assert_eq!(w.ack_count("alice", 1), Ok(1), "recorded acks stay");
    w.assert_replay_matches();
}

#[test]
fn membership_commands_are_idempotent_and_checked() {
    let mut w = world_with(Policy::default());
    assert!(w
        .join("team", "bob", Role::Admin)
        .unwrap()
        .decision
        .events
        .is_empty());
    assert!(matches!(
        w.join("team", "bob", Role::Member),
        Err(DomainError::AlreadyMember { .. })
    ));
    assert!(w.leave("team", "bob").unwrap().decision.events.len() == 1);
    assert!(w.leave("team", "bob").unwrap().decision.events.is_empty());
    assert!(matches!(
        w.leave("team", "nobody"),
        Err(DomainError::NotAMember { .. })
    ));
    assert!(matches!(
        w.run(CommandKind::SetRole {
            group: group("team"),
            user: user("bob"),
            role: Role::Owner
        }),
        Err(DomainError::NotAMember { .. })
    ));
    assert_eq!(w.state.member_count(&group("team")), 3);
}

#[test]
fn group_ack_stamped_before_the_message_was_sent_is_rejected() {
    let mut w = world_with(Policy::all_receipts_on());
    w.send(team(), 1, "alice", true).unwrap();
    w.rewind(1);
    assert!(matches!(
        w.group_ack(1, "bob"),
        Err(DomainError::AckBeforeSend { at_ms, sent_at_ms, .. }) if at_ms + 1 == sent_at_ms
    ));
    assert_eq!(w.ack_count("alice", 1).unwrap(), 0, "nothing recorded");
    w.advance(1);
    assert!(
        w.group_ack(1, "bob").is_ok(),
        "stamped at the send itself is fine"
    );
}

#[test]
fn marking_or_acking_a_conversation_nothing_happened_in_is_the_same_typed_error() {
    let mut w = world_with(Policy::all_receipts_on());
    let nowhere = gconv("nowhere");
    assert_eq!(
        w.mark_all(nowhere.clone(), "bob").unwrap_err(),
        DomainError::UnknownConversation(nowhere)
    );
    let quiet = direct("bob", "erin");
    assert_eq!(
        w.mark_all(quiet.clone(), "bob").unwrap_err(),
        DomainError::UnknownConversation(quiet.clone())
    );
    assert_eq!(
        w.ack_conversation(quiet.clone(), "bob").unwrap_err(),
        DomainError::UnknownConversation(quiet)
    );
    // A known group the reader never joined stays `NotAMember`.
    assert!(matches!(
        w.mark_all(team(), "erin"),
        Err(DomainError::NotAMember { .. })
    ));
}
