//! Mentions (by name and `@all`) and notification modes (mute, mentions only): counted beside
//! unread, cleared by the same reads, and what each conversation adds to the badge.

mod support;

use receipt_domain::*;
use support::*;

fn team() -> ConversationId {
    gconv("team")
}

fn world() -> World {
    let mut w = World::new(Policy::all_receipts_on());
    w.run(CommandKind::CreateGroup {
        group: group("team"),
        owner: user("ann"),
        members: ["bob", "cat"].iter().map(|u| user(u)).collect(),
    })
    .unwrap();
    w
}

fn mention(
    w: &mut World,
    m: u128,
    from: &str,
    names: &[&str],
    all: bool,
) -> Result<Outcome, DomainError> {
    w.run(CommandKind::SendMessageMentioning {
        conversation: team(),
        message: msg(m),
        sender: user(from),
        needs_group_ack: false,
        mentions: names.iter().map(|u| user(u)).collect(),
        mention_all: all,
    })
}

fn mode(
    w: &mut World,
    c: ConversationId,
    u: &str,
    mode: NotificationMode,
) -> Result<Outcome, DomainError> {
    w.run(CommandKind::SetNotificationMode {
        conversation: c,
        user: user(u),
        mode,
    })
}

#[test]
fn a_mention_counts_beside_unread_until_the_message_is_read() {
    let mut w = world();
    let o = mention(&mut w, 1, "ann", &["bob", "bob"], false).unwrap();
    assert_eq!(
        o.decision
            .events
            .iter()
            .map(|e| e.body.kind_name())
            .collect::<Vec<_>>(),
        ["MessageSent", "UsersMentioned"]
    );
    assert_eq!(o.notifications.len(), 1, "bob, named twice, is told once");
    assert_eq!(o.notifications[0].to, user("bob"));
    w.send(team(), 2, "ann", false).unwrap();
    mention(&mut w, 3, "ann", &[], true).unwrap(); // @all
    let mentions = |w: &World, u: &str| w.state.mention_count(&user(u), &team());
    assert_eq!((mentions(&w, "bob"), mentions(&w, "cat")), (2, 1));
    assert_eq!(
        mentions(&w, "ann"),
        0,
        "nobody is mentioned by their own message"
    );
    w.mark(1, "bob").unwrap();
    assert_eq!(mentions(&w, "bob"), 1);
    w.mark_all(team(), "cat").unwrap();
    assert_eq!(mentions(&w, "cat"), 0);
    assert_eq!(
        w.state.badge(&user("bob")),
        Badge {
            unread: 2,
            mentions: 1,
            thread_unread: 0
        }
    );
    w.assert_replay_matches();
}

#[test]
fn only_recipients_can_be_mentioned_and_a_refused_mention_sends_nothing() {
    let mut w = world();
    assert_eq!(
        mention(&mut w, 1, "ann", &["bob", "zed"], false).unwrap_err(),
        DomainError::NotARecipient {
            user: user("zed"),
            message: msg(1)
        }
    );
    assert_eq!(
        mention(&mut w, 1, "ann", &["ann"], false).unwrap_err(),
        DomainError::NotARecipient {
            user: user("ann"),
            message: msg(1)
        },
        "the sender is not a recipient of their own message"
    );
    assert_eq!(w.state.message_count(), 0);
    assert_eq!(w.unread("bob", &team()), 0);
}

#[test]
fn a_recalled_mention_counts_no_more() {
    let mut w = world();
    mention(&mut w, 1, "ann", &["bob"], true).unwrap();
    assert_eq!(w.state.mention_count(&user("bob"), &team()), 1);
    w.run(CommandKind::RecallMessage {
        message: msg(1),
        by: user("ann"),
    })
    .unwrap();
    assert_eq!(w.state.mention_count(&user("bob"), &team()), 0);
    assert_eq!(w.state.mention_count(&user("cat"), &team()), 0);
}

#[test]
fn muted_conversations_leave_the_badge_and_mentions_only_counts_mentions() {
    let mut w = world();
    let chat = direct("bob", "dan");
    w.send(chat.clone(), 10, "dan", false).unwrap();
    w.send(team(), 1, "ann", false).unwrap();
    mention(&mut w, 2, "ann", &["bob"], false).unwrap();
    assert_eq!(w.state.total_unread(&user("bob")), 3);
    let o = mode(&mut w, chat.clone(), "bob", NotificationMode::Muted).unwrap();
    assert_eq!(
        o.notifications[0].to,
        user("bob"),
        "bob's other devices hear of it"
    );
    mode(&mut w, team(), "bob", NotificationMode::MentionsOnly).unwrap();
    assert_eq!(w.state.total_unread(&user("bob")), 1, "the mention only");
    assert_eq!(
        w.unread("bob", &chat),
        1,
        "a muted chat keeps its own unread count"
    );
    let list = w.state.conversations(&user("bob"));
    assert!(list
        .iter()
        .any(|c| c.conversation == chat && c.mode == NotificationMode::Muted && c.unread == 1));
    assert_eq!(
        mode(&mut w, chat.clone(), "bob", NotificationMode::Muted)
            .unwrap()
            .decision
            .note,
        Some(Note::AlreadyDone)
    );
    assert!(matches!(
        mode(&mut w, chat, "eve", NotificationMode::Muted),
        Err(DomainError::NotAParticipant { .. })
    ));
    assert!(matches!(
        mode(&mut w, gconv("nowhere"), "bob", NotificationMode::Muted),
        Err(DomainError::UnknownConversation(_))
    ));
    w.assert_replay_matches();
}
