//! The backbone: random command sequences (valid, invalid, duplicated, out of order, across
//! direct chats and groups with joins and leaves, with the policy and the clock changing under
//! them) run through the engine and the reference model; every query is compared after every step.

mod support;

use proptest::prelude::*;
use receipt_domain::*;
use support::model::{Effect, Model};
use support::*;

const USERS: [&str; 4] = ["ann", "bob", "cat", "dan"];
const GROUPS: [&str; 2] = ["g1", "g2"];
const MESSAGES: u128 = 12;

#[derive(Debug, Clone)]
enum Step {
    /// A thread command on a message already sent (kind, root pick, reply id, user pick).
    Thread(u8, usize, u128, usize),
    Command(CommandKind),
    Advance(u64),
    /// The clock steps back (a command stamped by a clock behind an earlier one).
    Rewind(u64),
    SetPolicy(Policy),
    /// Check that replaying the history from scratch gives the incremental state.
    Rebuild,
}

fn any_user() -> impl Strategy<Value = UserId> {
    (0..USERS.len()).prop_map(|i| user(USERS[i]))
}

fn any_group() -> impl Strategy<Value = GroupId> {
    (0..GROUPS.len()).prop_map(|i| group(GROUPS[i]))
}

fn any_message() -> impl Strategy<Value = MessageId> {
    (0..MESSAGES).prop_map(msg)
}

fn any_conversation() -> impl Strategy<Value = ConversationId> {
    // One busy direct chat, so repeated acks and reads of the same conversation are common.
    prop_oneof![
        2 => Just(direct("ann", "bob")),
        1 => (0..USERS.len(), 1..USERS.len())
            .prop_map(|(a, d)| direct(USERS[a], USERS[(a + d) % USERS.len()])),
        3 => any_group().prop_map(ConversationId::Group),
    ]
}

fn any_role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Owner), Just(Role::Admin), Just(Role::Member)]
}

fn any_policy() -> impl Strategy<Value = Policy> {
    (
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.8),
        prop::bool::ANY,
        prop_oneof![Just(50u64), Just(100), Just(3 * DAY_MS)],
        prop_oneof![Just(1u32), Just(2), Just(3), Just(200)],
        prop::bool::ANY,
        prop_oneof![Just(None), Just(Some(50u64)), Just(Some(100))],
        prop_oneof![Just(1u32), Just(2), Just(50)],
        prop_oneof![Just(2u32), Just(500)],
        prop_oneof![Just(50u64), Just(3 * DAY_MS)],
        (
            prop_oneof![Just(1u32), Just(2), Just(100)],
            prop_oneof![Just(50u64), Just(DAY_MS)],
            prop_oneof![Just(1u32), Just(3), Just(10_000)],
        ),
    )
        .prop_map(
            |(
                delivery,
                read,
                group,
                admins_only,
                validity,
                cap,
                all_see,
                retention,
                acks_max,
                members_max,
                recall_window,
                (early_max, early_ttl, early_total),
            )| {
                Policy::default()
                    .with_delivery_acks(delivery)
                    .with_read_acks(read)
                    .with_group_read_receipts(group)
                    .with_group_ack_requesters(if admins_only {
                        GroupAckRequesters::OwnerAndAdmins
                    } else {
                        GroupAckRequesters::AllMembers
                    })
                    .with_group_ack_validity_ms(validity)
                    .with_max_group_size(cap)
                    .with_group_ack_visibility(if all_see {
                        AckVisibility::AllMembers
                    } else {
                        AckVisibility::SenderOnly
                    })
                    .with_message_retention_ms(retention)
                    .with_max_messages_per_ack(acks_max)
                    .with_max_members_per_command(members_max)
                    .with_recall_window_ms(recall_window)
                    .with_max_early_acks_per_conversation(early_max)
                    .with_early_ack_ttl_ms(early_ttl)
                    .with_max_early_acks_total(early_total)
            },
        )
}

fn any_command() -> impl Strategy<Value = CommandKind> {
    prop_oneof![
        4 => (any_conversation(), any_message(), any_user(), prop::bool::ANY).prop_map(
            |(conversation, message, sender, needs_group_ack)| CommandKind::SendMessage {
                conversation, message, sender, needs_group_ack
            }
        ),
        2 => (any_message(), any_user())
            .prop_map(|(message, recipient)| CommandKind::Deliver { message, recipient }),
        2 => (any_message(), any_user())
            .prop_map(|(message, reader)| CommandKind::AckMessageRead { message, reader }),
        2 => (any_conversation(), any_user())
            .prop_map(|(conversation, reader)| CommandKind::AckConversationRead { conversation, reader }),
        4 => (any_message(), any_user())
            .prop_map(|(message, reader)| CommandKind::AckGroupMessageRead { message, reader }),
        2 => (any_message(), any_user())
            .prop_map(|(message, reader)| CommandKind::MarkMessageRead { message, reader }),
        2 => (any_conversation(), any_user())
            .prop_map(|(conversation, reader)| CommandKind::MarkConversationRead { conversation, reader }),
        4 => (any_group(), any_user(), any_role())
            .prop_map(|(group, user, role)| CommandKind::JoinGroup { group, user, role }),
        1 => (any_group(), any_user())
            .prop_map(|(group, user)| CommandKind::LeaveGroup { group, user }),
        1 => (any_group(), any_user(), any_role())
            .prop_map(|(group, user, role)| CommandKind::SetRole { group, user, role }),
        2 => (any_conversation(), prop::collection::vec(any_message(), 0..4), any_user())
            .prop_map(|(conversation, messages, reader)| CommandKind::AckMessagesRead { conversation, messages, reader }),
        1 => (any_group(), any_user(), prop::collection::vec(any_user(), 0..4))
            .prop_map(|(group, owner, members)| CommandKind::CreateGroup { group, owner, members }),
        1 => (any_group(), prop::collection::vec(any_user(), 0..4), any_role())
            .prop_map(|(group, users, role)| CommandKind::AddMembers { group, users, role }),
        1 => (any_group(), prop::collection::vec(any_user(), 0..4))
            .prop_map(|(group, users)| CommandKind::RemoveMembers { group, users }),
        2 => (any_message(), any_user())
            .prop_map(|(message, by)| CommandKind::RecallMessage { message, by }),
        3 => (any_conversation(), any_message(), any_user(), prop::collection::vec(any_user(), 0..3), prop::bool::weighted(0.3))
            .prop_map(|(conversation, message, sender, mentions, mention_all)| CommandKind::SendMessageMentioning {
                conversation, message, sender, needs_group_ack: false, mentions, mention_all
            }),
        2 => (any_conversation(), any_user(), any_message())
            .prop_map(|(conversation, reader, up_to)| CommandKind::AckConversationReadUpTo { conversation, reader, up_to }),
        3 => (any_conversation(), any_message(), any_user())
            .prop_map(|(conversation, message, reader)| CommandKind::AckMessageReadIn { conversation, message, reader }),
        1 => any_conversation().prop_map(|conversation| CommandKind::ExpireEarlyAcks { conversation }),
        4 => (any_conversation(), any_message(), any_message(), any_user())
            .prop_map(|(conversation, root, message, sender)| CommandKind::SendThreadReply { conversation, root, message, sender }),
        1 => (any_conversation(), any_message(), any_user())
            .prop_map(|(conversation, root, user)| CommandKind::FollowThread { conversation, root, user }),
        1 => (any_conversation(), any_message(), any_user())
            .prop_map(|(conversation, root, user)| CommandKind::UnfollowThread { conversation, root, user }),
        2 => (any_conversation(), any_message(), any_user())
            .prop_map(|(conversation, root, reader)| CommandKind::MarkThreadRead { conversation, root, reader }),
        2 => (any_conversation(), any_message(), any_user())
            .prop_map(|(conversation, root, reader)| CommandKind::AckThreadRead { conversation, root, reader }),
        2 => (any_conversation(), any_user(), any_message())
            .prop_map(|(conversation, reader, up_to)| CommandKind::MarkConversationReadUpTo { conversation, reader, up_to }),
        2 => (any_conversation(), any_user(), prop_oneof![Just(NotificationMode::All), Just(NotificationMode::MentionsOnly), Just(NotificationMode::Muted)])
            .prop_map(|(conversation, user, mode)| CommandKind::SetNotificationMode { conversation, user, mode }),
    ]
}

fn any_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        20 => any_command().prop_map(Step::Command),
        6 => (any::<u8>(), any::<usize>(), 0..MESSAGES + 8, any::<usize>())
            .prop_map(|(k, r, m, u)| Step::Thread(k, r, m, u)),
        // Windows and steps on a 25 ms grid, so sums land exactly on the boundaries (50, 100).
        3 => prop_oneof![Just(0u64), Just(25), Just(25), Just(50), Just(DAY_MS)]
            .prop_map(Step::Advance),
        3 => prop_oneof![Just(1u64), Just(25)].prop_map(Step::Rewind),
        1 => any_policy().prop_map(Step::SetPolicy),
        1 => Just(Step::Rebuild),
    ]
}

fn effect_of(outcome: &Outcome) -> Effect {
    Effect {
        changed: !outcome.decision.events.is_empty(),
        note: outcome.decision.note,
        notifications: outcome.notifications.clone(),
    }
}

/// Every query, for every user, conversation and message of the universe.
fn compare_queries(world: &World, model: &Model, page_size: u32) -> Result<(), TestCaseError> {
    let p = &world.policy;
    let s = &world.state;
    let mut conversations: Vec<ConversationId> = GROUPS.iter().map(|g| gconv(g)).collect();
    for (i, a) in USERS.iter().enumerate() {
        for b in &USERS[i + 1..] {
            conversations.push(direct(a, b));
        }
    }
    for g in GROUPS {
        prop_assert_eq!(s.member_count(&group(g)), model.member_count(&group(g)));
    }
    for name in USERS {
        let u = user(name);
        for c in &conversations {
            prop_assert_eq!(
                s.unread_count(&u, c),
                model.unread(&u, c),
                "unread {} {}",
                name,
                c
            );
        }
        prop_assert_eq!(s.conversations(&u), model.conversations(&u));
        prop_assert_eq!(s.total_unread(&u), model.total_unread(&u));
        for m in 0..MESSAGES {
            let id = msg(m);
            prop_assert_eq!(
                s.message_status(p, &u, &id),
                model.message_status(p, &u, &id),
                "status of {} for {}",
                m,
                name
            );
            let expected = model.group_acks(p, &u, &id);
            prop_assert_eq!(
                s.group_ack_count(p, &u, &id),
                expected.clone().map(|l| l.len() as u32)
            );
            // Walk the reader list page by page; it must concatenate to the model's list.
            let mut got = Vec::new();
            let mut cursor = None;
            let walked = loop {
                match s.fetch_group_acks(p, &u, &id, cursor, page_size) {
                    Err(e) => break Err(e),
                    Ok(page) => {
                        prop_assert!(page.entries.len() <= page_size as usize);
                        got.extend(page.entries);
                        match page.next {
                            None => break Ok(got),
                            Some(next) => cursor = Some(next),
                        }
                    }
                }
            };
            prop_assert_eq!(walked, expected);
            // The unread members, page by page: each once, the model's set.
            let mut got = Vec::new();
            let mut cursor = None;
            let walked = loop {
                match s.fetch_group_unread_members(p, &u, &id, cursor, page_size) {
                    Err(e) => break Err(e),
                    Ok(page) => {
                        prop_assert!(page.members.len() <= page_size as usize);
                        got.extend(page.members);
                        match page.next {
                            None => break Ok(got),
                            Some(next) => cursor = Some(next),
                        }
                    }
                }
            };
            let walked = walked.map(|list| {
                let set: std::collections::BTreeSet<UserId> = list.iter().cloned().collect();
                (list.len(), set)
            });
            let expected = model.unread_members(p, &u, &id).map(|set| (set.len(), set));
            prop_assert_eq!(walked, expected, "unread members of {} for {}", m, name);
        }
        prop_assert_eq!(s.badge(&u), Badge::of(&model.conversations(&u)));
        for c in &conversations {
            prop_assert_eq!(
                s.mention_count(&u, c),
                model.mentions(&u, c),
                "mentions of {} in {}",
                name,
                c
            );
            prop_assert_eq!(
                s.first_unread_message(&u, c),
                model.first_unread(&u, c),
                "first unread of {} in {}",
                name,
                c
            );
            prop_assert_eq!(
                s.thread_unreads(&u, c),
                model.thread_unreads(&u, c),
                "threads of {} in {}",
                name,
                c
            );
            for m in 0..MESSAGES {
                prop_assert_eq!(
                    s.thread_unread_count(&u, c, &msg(m)),
                    model.thread_unread(&u, &msg(m))
                        * u32::from(model.conversation_of(&msg(m)).as_ref() == Some(c)),
                    "thread of {} for {} in {}",
                    m,
                    name,
                    c
                );
            }
        }
        for (reply, _) in model.replies() {
            prop_assert_eq!(
                s.thread_read_by(p, &u, &reply),
                model.thread_read_by(p, &u, &reply),
                "read by of reply {} for {}",
                reply,
                name
            );
        }
    }
    Ok(())
}

/// The conversation a command is about, as the model knows it.
fn addressed_conversation(model: &Model, kind: &CommandKind) -> Option<ConversationId> {
    match kind {
        CommandKind::SendMessage { conversation, .. }
        | CommandKind::AckConversationRead { conversation, .. }
        | CommandKind::MarkConversationRead { conversation, .. }
        | CommandKind::AckMessagesRead { conversation, .. }
        | CommandKind::SendMessageMentioning { conversation, .. }
        | CommandKind::SetNotificationMode { conversation, .. }
        | CommandKind::AckConversationReadUpTo { conversation, .. }
        | CommandKind::MarkConversationReadUpTo { conversation, .. }
        | CommandKind::AckMessageReadIn { conversation, .. }
        | CommandKind::ExpireEarlyAcks { conversation }
        | CommandKind::SendThreadReply { conversation, .. }
        | CommandKind::FollowThread { conversation, .. }
        | CommandKind::UnfollowThread { conversation, .. }
        | CommandKind::MarkThreadRead { conversation, .. }
        | CommandKind::AckThreadRead { conversation, .. } => Some(conversation.clone()),
        CommandKind::Deliver { message, .. }
        | CommandKind::AckMessageRead { message, .. }
        | CommandKind::AckGroupMessageRead { message, .. }
        | CommandKind::MarkMessageRead { message, .. }
        | CommandKind::RecallMessage { message, .. } => model.conversation_of(message),
        CommandKind::JoinGroup { group, .. }
        | CommandKind::LeaveGroup { group, .. }
        | CommandKind::SetRole { group, .. }
        | CommandKind::CreateGroup { group, .. }
        | CommandKind::AddMembers { group, .. }
        | CommandKind::RemoveMembers { group, .. } => Some(ConversationId::Group(group.clone())),
        _ => None,
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn engine_matches_reference_model(
        policy in any_policy(),
        steps in prop::collection::vec(any_step(), 1..80),
        page_size in 1u32..4,
    ) {
        let mut world = World::new(policy);
        let mut model = Model::default();
        let users: Vec<UserId> = USERS.iter().map(|u| user(u)).collect();
        for step in steps {
            let step = match step {
                Step::Thread(k, r, m, u) => match model.thread_command(k, r, msg(m), u, &users) {
                    Some(kind) => Step::Command(kind),
                    None => continue,
                },
                other => other,
            };
            match step {
                Step::Thread(..) => unreachable!("resolved above"),
                Step::Advance(ms) => world.advance(ms),
                // The world starts at 1,000,000 ms and an 80-step case rewinds at most 2,000.
                Step::Rewind(ms) => world.rewind(ms),
                Step::SetPolicy(p) => world.policy = p,
                Step::Rebuild => world.assert_replay_matches(),
                Step::Command(kind) => {
                    let before = world.history.len();
                    let expected = model.exec(&world.policy, world.now_ms, &kind);
                    let got = world.run(kind.clone());
                    match (&got, &expected) {
                        (Ok(o), Ok(e)) => prop_assert_eq!(&effect_of(o), e, "{:?}", kind),
                        (Err(g), Err(e)) => {
                            prop_assert_eq!(g, e, "{:?}", kind);
                            prop_assert_eq!(world.history.len(), before, "a rejected command wrote events");
                        }
                        _ => prop_assert!(false, "engine {:?} but model {:?} for {:?}",
                            got.as_ref().map(effect_of), expected, kind),
                    }
                    if let Ok(o) = &got {
                        // Every event belongs to the one conversation the command addressed.
                        let stream = addressed_conversation(&model, &kind);
                        for e in &o.decision.events {
                            prop_assert_eq!(Some(e.body.conversation()), stream.clone());
                        }
                    }
                    world.state.check_invariants().map_err(|e| TestCaseError::fail(e.to_string()))?;
                    compare_queries(&world, &model, page_size)?;
                }
            }
        }
        world.assert_replay_matches();
    }
}
