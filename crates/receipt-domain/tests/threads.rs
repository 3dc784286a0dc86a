//! Threads: replies to a message, followed and read apart from the conversation's own messages.

mod support;

use receipt_domain::*;
use support::*;

fn team() -> ConversationId {
    gconv("team")
}

/// A group of ann (owner), bob and cat, with ann's message 1.
fn world(policy: Policy) -> World {
    let mut w = World::new(policy);
    w.run(CommandKind::CreateGroup {
        group: group("team"),
        owner: user("ann"),
        members: vec![user("bob"), user("cat")],
    })
    .unwrap();
    w.send(team(), 1, "ann", false).unwrap();
    w
}

fn reply(
    w: &mut World,
    c: ConversationId,
    root: u128,
    id: u128,
    by: &str,
) -> Result<Outcome, DomainError> {
    w.run(CommandKind::SendThreadReply {
        conversation: c,
        root: msg(root),
        message: msg(id),
        sender: user(by),
    })
}

fn thread_cmd(
    w: &mut World,
    make: fn(ConversationId, MessageId, UserId) -> CommandKind,
    by: &str,
) -> Result<Outcome, DomainError> {
    w.run(make(team(), msg(1), user(by)))
}

fn follow(c: ConversationId, root: MessageId, user: UserId) -> CommandKind {
    CommandKind::FollowThread {
        conversation: c,
        root,
        user,
    }
}

fn unfollow(c: ConversationId, root: MessageId, user: UserId) -> CommandKind {
    CommandKind::UnfollowThread {
        conversation: c,
        root,
        user,
    }
}

fn mark(c: ConversationId, root: MessageId, reader: UserId) -> CommandKind {
    CommandKind::MarkThreadRead {
        conversation: c,
        root,
        reader,
    }
}

fn ack(c: ConversationId, root: MessageId, reader: UserId) -> CommandKind {
    CommandKind::AckThreadRead {
        conversation: c,
        root,
        reader,
    }
}

fn thread_unread(w: &World, u: &str) -> u32 {
    w.state.thread_unread_count(&user(u), &team(), &msg(1))
}

#[test]
fn replies_count_for_followers_only_and_apart_from_the_conversation() {
    let mut w = world(Policy::default());
    // Given bob replies to ann's message: the thread starts, ann (its root's sender) and bob
    // follow it.
    let o = reply(&mut w, team(), 1, 100, "bob").unwrap();
    assert_eq!(o.decision.events.len(), 1);
    reply(&mut w, team(), 1, 101, "bob").unwrap();
    // Then ann has two unread replies, bob (their sender) none, cat (not following) none.
    assert_eq!(
        (
            thread_unread(&w, "ann"),
            thread_unread(&w, "bob"),
            thread_unread(&w, "cat")
        ),
        (2, 0, 0)
    );
    // And nobody's conversation unread moved: replies are not in the message sequence.
    assert_eq!(w.unread("bob", &team()), 1);
    assert_eq!(w.unread("cat", &team()), 1);
    assert_eq!(w.unread("ann", &team()), 0);
    let list = w.state.conversations(&user("ann"));
    assert_eq!((list[0].unread, list[0].thread_unread), (0, 2));
    // The badge reports them apart; a policy may count them in the total.
    let badge = w.state.badge(&user("ann"));
    assert_eq!((badge.unread, badge.thread_unread), (0, 2));
    let counted = badge.under(&Policy::default().with_thread_unread_in_total(true));
    assert_eq!(counted.unread, 2);
    assert_eq!(
        w.state.thread_unreads(&user("ann"), &team()),
        vec![ThreadUnread {
            root: msg(1),
            replies: 2,
            unread: 2
        }]
    );
    assert_eq!(
        w.state.thread_replies(&team(), &msg(1)),
        vec![msg(100), msg(101)]
    );
    w.assert_replay_matches();
}

#[test]
fn a_follower_counts_replies_from_when_they_follow_until_they_read_or_unfollow() {
    let mut w = world(Policy::default());
    reply(&mut w, team(), 1, 100, "bob").unwrap();
    let o = thread_cmd(&mut w, follow, "cat").unwrap();
    assert_eq!(
        o.notifications,
        vec![Notification {
            to: user("cat"),
            kind: NotificationKind::ThreadFollowChanged {
                conversation: team(),
                root: msg(1),
                following: true
            },
        }]
    );
    assert_eq!(
        thread_unread(&w, "cat"),
        0,
        "earlier replies are not unread for a new follower"
    );
    assert_eq!(
        thread_cmd(&mut w, follow, "cat").unwrap().decision.note,
        Some(Note::AlreadyDone)
    );
    reply(&mut w, team(), 1, 101, "ann").unwrap();
    reply(&mut w, team(), 1, 102, "cat").unwrap();
    assert_eq!(thread_unread(&w, "cat"), 1, "ann's reply; not cat's own");
    // Reading the thread reads every reply.
    let read = thread_cmd(&mut w, mark, "cat").unwrap();
    assert_eq!(read.decision.events[0].body.kind_name(), "ThreadRead");
    assert_eq!(thread_unread(&w, "cat"), 0);
    assert_eq!(
        thread_cmd(&mut w, mark, "cat").unwrap().decision.note,
        Some(Note::AlreadyDone)
    );
    // Unfollowing drops the thread's unread count; nothing counts until they follow again.
    reply(&mut w, team(), 1, 103, "bob").unwrap();
    assert_eq!(thread_unread(&w, "cat"), 1);
    thread_cmd(&mut w, unfollow, "cat").unwrap();
    assert_eq!(thread_unread(&w, "cat"), 0);
    assert_eq!(
        thread_cmd(&mut w, unfollow, "cat").unwrap().decision.note,
        Some(Note::AlreadyDone)
    );
    reply(&mut w, team(), 1, 104, "bob").unwrap();
    assert_eq!(thread_unread(&w, "cat"), 0);
    w.assert_replay_matches();
}

#[test]
fn leaving_the_group_unfollows_its_threads() {
    let mut w = world(Policy::default());
    reply(&mut w, team(), 1, 100, "bob").unwrap();
    thread_cmd(&mut w, follow, "cat").unwrap();
    reply(&mut w, team(), 1, 101, "bob").unwrap();
    assert_eq!(thread_unread(&w, "cat"), 1);
    w.leave("team", "cat").unwrap();
    assert_eq!(thread_unread(&w, "cat"), 0);
    assert!(w.state.thread_unreads(&user("cat"), &team()).is_empty());
    assert!(matches!(
        thread_cmd(&mut w, follow, "cat"),
        Err(DomainError::NotAMember { .. })
    ));
    w.assert_replay_matches();
}

#[test]
fn receipts_say_who_read_each_reply_as_the_visibility_policy_allows() {
    let mut w = world(Policy::all_receipts_on());
    reply(&mut w, team(), 1, 100, "bob").unwrap();
    thread_cmd(&mut w, ack, "ann").unwrap();
    thread_cmd(&mut w, mark, "cat").unwrap(); // a private read: no receipt
    reply(&mut w, team(), 1, 101, "bob").unwrap();
    let p = w.policy.clone();
    assert_eq!(
        w.state.thread_read_by(&p, &user("bob"), &msg(100)),
        Ok(vec![user("ann")])
    );
    assert_eq!(
        w.state.thread_read_by(&p, &user("bob"), &msg(101)),
        Ok(vec![])
    );
    // Sender-only by default: another member may not see the list.
    assert_eq!(
        w.state.thread_read_by(&p, &user("cat"), &msg(100)),
        Err(QueryError::Forbidden {
            viewer: user("cat"),
            message: msg(100)
        })
    );
    let open = p
        .clone()
        .with_group_ack_visibility(AckVisibility::AllMembers);
    assert_eq!(
        w.state.thread_read_by(&open, &user("cat"), &msg(100)),
        Ok(vec![user("ann")])
    );
    assert_eq!(
        w.state.thread_read_by(&p, &user("bob"), &msg(1)),
        Err(QueryError::UnknownMessage(msg(1))),
        "a root is not a reply"
    );
    // An ack with nothing new is a no-op; receipts need read acks on.
    thread_cmd(&mut w, ack, "ann").unwrap();
    assert_eq!(
        thread_cmd(&mut w, ack, "ann").unwrap().decision.note,
        Some(Note::AlreadyDone)
    );
    w.policy = Policy::default();
    assert_eq!(
        thread_cmd(&mut w, ack, "cat").unwrap_err(),
        DomainError::ReadAcksDisabled
    );
    w.assert_replay_matches();
}

#[test]
fn replies_are_checked_like_messages_and_their_ids_are_unique_with_them() {
    let mut w = world(Policy::default());
    w.send(direct("ann", "dan"), 2, "ann", false).unwrap();
    // Root checks: unknown, in another conversation, a reply, recalled.
    assert_eq!(
        reply(&mut w, team(), 9, 100, "bob").unwrap_err(),
        DomainError::UnknownMessage(msg(9))
    );
    assert_eq!(
        reply(&mut w, team(), 2, 100, "bob").unwrap_err(),
        DomainError::MessageNotInConversation {
            message: msg(2),
            conversation: team()
        }
    );
    reply(&mut w, team(), 1, 100, "bob").unwrap();
    assert_eq!(
        reply(&mut w, team(), 100, 101, "bob").unwrap_err(),
        DomainError::ThreadReply(msg(100))
    );
    // The sender takes part: a stranger to the group, or to the direct chat, may not reply.
    assert!(matches!(
        reply(&mut w, team(), 1, 101, "dan"),
        Err(DomainError::NotAMember { .. })
    ));
    assert!(matches!(
        reply(&mut w, direct("ann", "dan"), 2, 101, "bob"),
        Err(DomainError::NotAParticipant { .. })
    ));
    // Ids: a retry is a no-op; any other use of the id, as a reply or a message, is refused.
    assert_eq!(
        reply(&mut w, team(), 1, 100, "bob").unwrap().decision.note,
        Some(Note::AlreadyDone)
    );
    assert_eq!(
        reply(&mut w, team(), 1, 100, "cat").unwrap_err(),
        DomainError::MessageIdInUse(msg(100))
    );
    assert_eq!(
        reply(&mut w, team(), 1, 1, "bob").unwrap_err(),
        DomainError::MessageIdInUse(msg(1))
    );
    assert_eq!(
        w.send(team(), 100, "ann", false).unwrap_err(),
        DomainError::MessageIdInUse(msg(100))
    );
    // A reply is not a message of the sequence: message commands do not know it.
    assert_eq!(
        w.run(CommandKind::MarkMessageRead {
            message: msg(100),
            reader: user("cat")
        })
        .unwrap_err(),
        DomainError::UnknownMessage(msg(100))
    );
    w.run(CommandKind::RecallMessage {
        message: msg(1),
        by: user("ann"),
    })
    .unwrap();
    assert_eq!(
        reply(&mut w, team(), 1, 102, "bob").unwrap_err(),
        DomainError::MessageRecalled(msg(1))
    );
    w.assert_replay_matches();
}

#[test]
fn threads_work_in_direct_chats_too() {
    let mut w = World::new(Policy::all_receipts_on());
    let chat = direct("ann", "bob");
    w.send(chat.clone(), 1, "ann", false).unwrap();
    reply(&mut w, chat.clone(), 1, 100, "bob").unwrap();
    assert_eq!(w.state.thread_unread_count(&user("ann"), &chat, &msg(1)), 1);
    w.run(ack(chat.clone(), msg(1), user("ann"))).unwrap();
    let p = w.policy.clone();
    // In a direct chat either participant sees the receipts.
    assert_eq!(
        w.state.thread_read_by(&p, &user("ann"), &msg(100)),
        Ok(vec![user("ann")])
    );
    assert_eq!(
        w.state.thread_read_by(&p, &user("bob"), &msg(100)),
        Ok(vec![user("ann")])
    );
    w.assert_replay_matches();
}

#[test]
fn a_recalled_root_keeps_its_thread_readable_so_no_reply_stays_unread() {
    let mut w = world(Policy::default());
    reply(&mut w, team(), 1, 100, "bob").unwrap();
    thread_cmd(&mut w, follow, "cat").unwrap();
    reply(&mut w, team(), 1, 101, "bob").unwrap();
    w.run(CommandKind::RecallMessage {
        message: msg(1),
        by: user("ann"),
    })
    .unwrap();
    // No new reply or follower...
    assert_eq!(
        reply(&mut w, team(), 1, 102, "bob").unwrap_err(),
        DomainError::MessageRecalled(msg(1))
    );
    assert_eq!(
        thread_cmd(&mut w, follow, "bob").unwrap_err(),
        DomainError::MessageRecalled(msg(1)),
        "the root's checks come first, as for every thread command"
    );
    // ...but the followers can still clear what they have not read, and leave.
    assert_eq!((thread_unread(&w, "ann"), thread_unread(&w, "cat")), (2, 1));
    thread_cmd(&mut w, mark, "ann").unwrap();
    thread_cmd(&mut w, unfollow, "cat").unwrap();
    assert_eq!((thread_unread(&w, "ann"), thread_unread(&w, "cat")), (0, 0));
    w.assert_replay_matches();
}
