//! The lists users ask for beyond the seed: who has not read a group message (paged), a user's
//! read position, when a read receipt was recorded, and many statuses at once.

mod support;

use receipt_domain::*;
use support::*;

fn team() -> ConversationId {
    gconv("team")
}

/// alice (owner), bob, carol, dave in `team`; alice sends message 1 with group receipts.
fn group_world() -> World {
    let mut w = World::new(Policy::all_receipts_on());
    w.run(CommandKind::CreateGroup {
        group: group("team"),
        owner: user("alice"),
        members: ["bob", "carol", "dave"].iter().map(|u| user(u)).collect(),
    })
    .unwrap();
    w.send(team(), 1, "alice", true).unwrap();
    w
}

fn unread_members(w: &World, viewer: &str, page_size: u32) -> Result<Vec<UserId>, QueryError> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = w.state.fetch_group_unread_members(
            &w.policy,
            &user(viewer),
            &msg(1),
            cursor,
            page_size,
        )?;
        assert!(page.members.len() <= page_size as usize);
        all.extend(page.members);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(all),
        }
    }
}

#[test]
fn the_unread_members_are_the_recipients_still_in_the_group_without_a_receipt() {
    let mut w = group_world();
    assert_eq!(
        unread_members(&w, "alice", 1).unwrap(),
        [user("bob"), user("carol"), user("dave")]
    );
    w.group_ack(1, "bob").unwrap();
    // A private read sends no receipt: the sender still sees carol as not having read it.
    w.mark(1, "carol").unwrap();
    w.leave("team", "dave").unwrap();
    w.join("team", "erin", Role::Member).unwrap(); // joined after the message: not a recipient
    assert_eq!(unread_members(&w, "alice", 2).unwrap(), [user("carol")]);
    assert_eq!(
        unread_members(&w, "bob", 2).unwrap_err(),
        QueryError::Forbidden {
            viewer: user("bob"),
            message: msg(1)
        },
        "the reader list's visibility rules apply"
    );
    w.policy = w
        .policy
        .clone()
        .with_group_ack_visibility(AckVisibility::AllMembers);
    assert_eq!(unread_members(&w, "bob", 2).unwrap(), [user("carol")]);
    assert!(matches!(
        w.state
            .fetch_group_unread_members(&w.policy, &user("alice"), &msg(1), None, 0),
        Err(QueryError::InvalidInput(_))
    ));
}

#[test]
fn the_read_position_is_the_oldest_message_still_counted_unread() {
    let mut w = World::new(Policy::all_receipts_on());
    let chat = direct("ann", "bob");
    for m in 1..=4 {
        w.send(chat.clone(), m, "ann", false).unwrap();
    }
    w.send(chat.clone(), 5, "bob", false).unwrap();
    assert_eq!(
        w.state.first_unread_message(&user("bob"), &chat),
        Some(msg(1))
    );
    w.mark(1, "bob").unwrap();
    w.mark(3, "bob").unwrap();
    assert_eq!(
        w.state.first_unread_message(&user("bob"), &chat),
        Some(msg(2))
    );
    w.mark(2, "bob").unwrap();
    w.mark(4, "bob").unwrap();
    // Bob's own message 5 never counts for him.
    assert_eq!(w.state.first_unread_message(&user("bob"), &chat), None);
    assert_eq!(
        w.state.first_unread_message(&user("ann"), &chat),
        Some(msg(5))
    );
    assert_eq!(w.state.first_unread_message(&user("zed"), &chat), None);
}

#[test]
fn a_read_receipt_time_is_the_first_ack_that_covered_the_message() {
    let mut w = World::new(Policy::all_receipts_on());
    let chat = direct("ann", "bob");
    for m in 1..=3 {
        w.send(chat.clone(), m, "ann", false).unwrap();
    }
    w.advance(10);
    w.ack(2, "bob").unwrap();
    let acked_2 = w.now_ms;
    w.advance(10);
    w.ack_conversation(chat.clone(), "bob").unwrap();
    let acked_rest = w.now_ms;
    w.send(chat.clone(), 4, "ann", false).unwrap();
    w.advance(10);
    w.ack_conversation(chat.clone(), "bob").unwrap();
    let acked_4 = w.now_ms;
    let at = |m: u128, viewer: &str| w.status(viewer, m).unwrap().read_acked_at_ms;
    assert_eq!(at(2, "ann"), Some(acked_2));
    assert_eq!(at(1, "ann"), Some(acked_rest));
    assert_eq!(at(3, "bob"), Some(acked_rest));
    assert_eq!(at(4, "ann"), Some(acked_4));
    w.assert_replay_matches();

    // In a group: the viewer's own receipt.
    let mut g = group_world();
    g.advance(7);
    g.group_ack(1, "bob").unwrap();
    assert_eq!(g.status("bob", 1).unwrap().read_acked_at_ms, Some(g.now_ms));
    assert_eq!(g.status("carol", 1).unwrap().read_acked_at_ms, None);
    assert_eq!(g.status("alice", 1).unwrap().read_acked_at_ms, None);
}

#[test]
fn many_statuses_answer_as_one_by_one_in_the_order_given() {
    let w = group_world();
    let asked = [msg(1), msg(9), msg(1)];
    let many = w.state.message_statuses(&w.policy, &user("bob"), &asked);
    assert_eq!(many.len(), 3);
    for (m, got) in asked.iter().zip(&many) {
        assert_eq!(got, &w.state.message_status(&w.policy, &user("bob"), m));
    }
    assert_eq!(many[1], Err(QueryError::UnknownMessage(msg(9))));
}
