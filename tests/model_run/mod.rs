//! The reference-model run of the Engine, shared by the engine on sled (tests/engine_model.rs)
//! and the engine on JetStream (crates/receipt-jetstream/tests/engine_model.rs): random steps
//! (commands, repeats, retries, restarts, checkpoints, batches, thread commands, policy changes,
//! clock jumps) against the model, every query compared after every step.
//!
//! The including test crate provides the modules `model` (the reference model) and `checks`
//! (tests/support/mod.rs) at its root.

use crate::checks;
use crate::model::Model;
use proptest::prelude::*;
use receipt_engine::*;
use std::sync::Arc;
use uuid::Uuid;

/// How a run opens (and reopens) the engine under test.
pub trait Opener {
    /// The engine's backend.
    type B: store::Backend;
    /// What `open` returns: the engine, or a handle that owns it.
    type Handle: std::ops::Deref<Target = Engine<Self::B>>;
    /// Opens the engine with these options (the same store each time).
    fn open(&mut self, options: EngineOptions) -> Self::Handle;
    /// Whether log positions survive a reopening (they do on one log; a replica rebuilt from
    /// several partitions, which have no order between them, numbers them anew).
    fn positions_kept(&self) -> bool;
}

const USERS: [&str; 4] = ["ann", "bob", "cat", "dan"];
const MESSAGES: u128 = 8;

fn user(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

fn group(s: &str) -> GroupId {
    GroupId::new(s).unwrap()
}

fn msg(n: u128) -> MessageId {
    MessageId(Uuid::from_u128(0x1000 + n))
}

fn conversations() -> Vec<ConversationId> {
    let mut out = vec![ConversationId::Group(group("g"))];
    for (i, a) in USERS.iter().enumerate() {
        for b in &USERS[i + 1..] {
            out.push(ConversationId::direct(user(a), user(b)).unwrap());
        }
    }
    out
}

#[derive(Debug, Clone)]
pub enum Step {
    Command(CommandKind),
    /// Run again the command of an earlier step, with a fresh id (a user doing it twice).
    Repeat(usize),
    /// Send again an earlier accepted command with its own id (a client retry after a lost
    /// answer): the original outcome comes back and nothing changes.
    Retry(usize),
    Advance(u64),
    Restart,
    Checkpoint,
    /// Several commands through `execute_batch` (one append, one commit); with `true`, the
    /// batch ends with its first command again, same id (a gateway retrying inside a batch).
    Batch(Vec<CommandKind>, bool),
    /// A thread command on a message already sent (kind, root pick, reply id, user pick).
    Thread(u8, usize, u128, usize),
    Policy(bool),
}

fn any_command() -> impl Strategy<Value = CommandKind> {
    let u = || (0..USERS.len()).prop_map(|i| user(USERS[i]));
    let m = || (0..MESSAGES).prop_map(msg);
    let c = || (0..conversations().len()).prop_map(|i| conversations()[i].clone());
    prop_oneof![
        4 => (c(), m(), u(), any::<bool>()).prop_map(|(conversation, message, sender, needs_group_ack)| CommandKind::SendMessage { conversation, message, sender, needs_group_ack }),
        3 => (u(), prop_oneof![Just(Role::Owner), Just(Role::Member)]).prop_map(|(user, role)| CommandKind::JoinGroup { group: group("g"), user, role }),
        1 => u().prop_map(|user| CommandKind::LeaveGroup { group: group("g"), user }),
        2 => (m(), u()).prop_map(|(message, recipient)| CommandKind::Deliver { message, recipient }),
        2 => (m(), u()).prop_map(|(message, reader)| CommandKind::AckMessageRead { message, reader }),
        2 => (c(), u()).prop_map(|(conversation, reader)| CommandKind::AckConversationRead { conversation, reader }),
        3 => (m(), u()).prop_map(|(message, reader)| CommandKind::AckGroupMessageRead { message, reader }),
        2 => (m(), u()).prop_map(|(message, reader)| CommandKind::MarkMessageRead { message, reader }),
        2 => (c(), u()).prop_map(|(conversation, reader)| CommandKind::MarkConversationRead { conversation, reader }),
        2 => (c(), prop::collection::vec(m(), 0..4), u()).prop_map(|(conversation, messages, reader)| CommandKind::AckMessagesRead { conversation, messages, reader }),
        1 => (u(), prop::collection::vec(u(), 0..4)).prop_map(|(owner, members)| CommandKind::CreateGroup { group: group("g"), owner, members }),
        1 => (prop::collection::vec(u(), 0..4), prop_oneof![Just(Role::Admin), Just(Role::Member)]).prop_map(|(users, role)| CommandKind::AddMembers { group: group("g"), users, role }),
        1 => prop::collection::vec(u(), 0..4).prop_map(|users| CommandKind::RemoveMembers { group: group("g"), users }),
        2 => (m(), u()).prop_map(|(message, by)| CommandKind::RecallMessage { message, by }),
        3 => (c(), m(), u(), prop::collection::vec(u(), 0..3), prop::bool::weighted(0.3)).prop_map(|(conversation, message, sender, mentions, mention_all)| CommandKind::SendMessageMentioning { conversation, message, sender, needs_group_ack: false, mentions, mention_all }),
        2 => (c(), u(), m()).prop_map(|(conversation, reader, up_to)| CommandKind::AckConversationReadUpTo { conversation, reader, up_to }),
        3 => (c(), m(), u()).prop_map(|(conversation, message, reader)| CommandKind::AckMessageReadIn { conversation, message, reader }),
        1 => c().prop_map(|conversation| CommandKind::ExpireEarlyAcks { conversation }),
        2 => (c(), u(), m()).prop_map(|(conversation, reader, up_to)| CommandKind::MarkConversationReadUpTo { conversation, reader, up_to }),
        2 => (c(), u(), prop_oneof![Just(NotificationMode::All), Just(NotificationMode::MentionsOnly), Just(NotificationMode::Muted)]).prop_map(|(conversation, user, mode)| CommandKind::SetNotificationMode { conversation, user, mode }),
    ]
}

pub fn any_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        16 => any_command().prop_map(Step::Command),
        5 => (any::<u8>(), any::<usize>(), 0..MESSAGES + 6, any::<usize>()).prop_map(|(k, r, m, u)| Step::Thread(k, r, m, u)),
        2 => any::<usize>().prop_map(Step::Repeat),
        2 => any::<usize>().prop_map(Step::Retry),
        2 => prop_oneof![Just(1u64), Just(DAY_MS), Just(3 * DAY_MS)].prop_map(Step::Advance),
        1 => Just(Step::Restart),
        1 => Just(Step::Checkpoint),
        2 => (prop::collection::vec(any_command(), 1..6), any::<bool>()).prop_map(|(k, d)| Step::Batch(k, d)),
        1 => any::<bool>().prop_map(Step::Policy),
    ]
}

fn policy(open: bool) -> Policy {
    Policy::all_receipts_on()
        .with_group_ack_visibility(if open {
            AckVisibility::AllMembers
        } else {
            AckVisibility::SenderOnly
        })
        .with_max_group_size(3)
        .with_max_messages_per_ack(3)
        .with_max_members_per_command(3)
        .with_max_early_acks_per_conversation(2)
        .with_max_early_acks_total(2)
        .with_thread_unread_in_total(open)
}

fn open<O: Opener>(
    opener: &mut O,
    clock: &Arc<ManualClock>,
    open_policy: bool,
    budget_bytes: usize,
) -> O::Handle {
    let options = EngineOptions::default()
        .with_policy(policy(open_policy))
        .with_clock(clock.clone())
        .with_checkpoint_every(Some(7))
        .with_memory_budget(budget_bytes);
    opener.open(options)
}

/// Memory budgets: 1 byte (everything but the conversation in use is evicted after every
/// command), 4 KiB (a few conversations stay), the default.
pub fn any_budget() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(1usize),
        Just(4 << 10),
        Just(DEFAULT_MEMORY_BUDGET_BYTES)
    ]
}

fn compare<B: store::Backend>(engine: &Engine<B>, model: &Model) -> Result<(), TestCaseError> {
    let p = engine.policy();
    let e = |e: EngineError| TestCaseError::fail(e.to_string());
    // Per-user answers first: with a tiny budget the other conversations were just evicted,
    // so these come from summaries, headers and checkpoints.
    for name in USERS {
        let u = user(name);
        for c in conversations() {
            prop_assert_eq!(
                engine.unread_count(&u, &c).map_err(e)?,
                model.unread(&u, &c)
            );
        }
        // The policy decides whether thread replies count in the total.
        let badge = Badge::of(&model.conversations(&u)).under(&p);
        prop_assert_eq!(engine.total_unread(&u).map_err(e)?, badge.unread);
        prop_assert_eq!(engine.badge(&u).map_err(e)?, badge);
        prop_assert_eq!(
            engine.conversations(&u).map_err(e)?,
            model.conversations(&u)
        );
    }
    let g = ConversationId::Group(group("g"));
    prop_assert_eq!(
        engine
            .with_partition(&g, |s, _| s.member_count(&group("g")))
            .map_err(e)?,
        model.member_count(&group("g"))
    );
    for name in USERS {
        let u = user(name);
        for m in 0..MESSAGES {
            let got = engine.message_status(&u, msg(m)).map_err(|e| e.to_string());
            let want = model
                .message_status(&p, &u, &msg(m))
                .map_err(|e| e.to_string());
            prop_assert_eq!(got, want);
            let got = engine
                .group_ack_count(&u, msg(m))
                .map_err(|e| e.to_string());
            let want = model
                .group_acks(&p, &u, &msg(m))
                .map(|l| l.len() as u32)
                .map_err(|e| e.to_string());
            prop_assert_eq!(got, want);
            // One page holds every member of this test's group (4 users).
            let got = engine
                .fetch_group_unread_members(&u, msg(m), None, 10)
                .map(|page| {
                    page.members
                        .into_iter()
                        .collect::<std::collections::BTreeSet<_>>()
                })
                .map_err(|e| e.to_string());
            let want = model
                .unread_members(&p, &u, &msg(m))
                .map_err(|e| e.to_string());
            prop_assert_eq!(got, want);
        }
        // Many statuses at once answer as one by one.
        let all: Vec<MessageId> = (0..MESSAGES).map(msg).collect();
        let many = engine.message_statuses(&u, &all).map_err(e)?;
        for (m, got) in all.iter().zip(many) {
            prop_assert_eq!(got, model.message_status(&p, &u, m));
        }
        for c in conversations() {
            prop_assert_eq!(
                engine.first_unread_message(&u, &c).map_err(e)?,
                model.first_unread(&u, &c)
            );
            prop_assert_eq!(
                engine.thread_unreads(&u, &c).map_err(e)?,
                model.thread_unreads(&u, &c)
            );
        }
        for (reply, _) in model.replies() {
            let got = engine.thread_read_by(&u, reply).map_err(|e| e.to_string());
            let want = model
                .thread_read_by(&p, &u, &reply)
                .map_err(|e| e.to_string());
            prop_assert_eq!(got, want);
        }
    }
    Ok(())
}

/// One case: `steps` on an engine opened by `opener` under a memory budget of `budget` bytes.
pub fn run_case<O: Opener>(
    opener: &mut O,
    steps: Vec<Step>,
    budget: usize,
) -> Result<(), TestCaseError> {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let mut open_policy = false;
    let mut engine = open(opener, &clock, open_policy, budget);
    let (_, mut live) = engine.subscribe(1 << 20);
    let mut seen: Vec<Positioned> = Vec::new();
    let mut model = Model::default();
    model.sweeps_when_total_full = true;
    let mut past: Vec<CommandKind> = Vec::new();
    // Accepted commands, with how many reopenings had happened when they were accepted.
    let mut accepted: Vec<(Command, Outcome, usize)> = Vec::new();
    let mut reopenings = 0usize;
    let mut next_id = 1u128;
    for step in steps {
        let kind = match step {
            Step::Command(k) => k,
            Step::Thread(k, r, m, u) => {
                let users: Vec<UserId> = USERS.iter().map(|u| user(u)).collect();
                match model.thread_command(k, r, msg(m), u, &users) {
                    Some(kind) => kind,
                    None => continue,
                }
            }
            Step::Retry(i) if !accepted.is_empty() => {
                let (command, first, when) = accepted[i % accepted.len()].clone();
                let head = engine.head();
                let again = engine.execute_command(command.clone());
                let again = match again {
                    Ok(o) => o,
                    Err(e) => {
                        return Err(TestCaseError::fail(format!(
                            "retry of {command:?} failed: {e}"
                        )))
                    }
                };
                prop_assert!(again.repeated, "a retry was decided again: {:?}", command);
                prop_assert_eq!(&again.events, &first.events);
                if opener.positions_kept() || when == reopenings {
                    prop_assert_eq!(again.first_position, first.first_position);
                }
                prop_assert_eq!(again.note, first.note);
                prop_assert!(again.notifications.is_empty());
                prop_assert_eq!(engine.head(), head, "a retry appended");
                compare(&engine, &model)?;
                continue;
            }
            Step::Retry(_) => continue,
            Step::Repeat(i) if !past.is_empty() => past[i % past.len()].clone(),
            Step::Repeat(_) => continue,
            Step::Advance(ms) => {
                clock.advance(ms);
                continue;
            }
            Step::Policy(open_it) => {
                open_policy = open_it;
                engine.set_policy(policy(open_it)).unwrap();
                continue;
            }
            Step::Checkpoint => {
                let report = engine.checkpoint().unwrap();
                prop_assert_eq!(report.position, engine.head());
                continue;
            }
            Step::Batch(kinds, repeat_first) => {
                let head = engine.head();
                let mut commands: Vec<Command> = kinds
                    .iter()
                    .map(|kind| {
                        let id = CommandId(Uuid::from_u128((1 << 100) + next_id));
                        next_id += 1;
                        Command {
                            id,
                            at_ms: clock.now_ms(),
                            kind: kind.clone(),
                        }
                    })
                    .collect();
                if repeat_first {
                    commands.push(commands[0].clone());
                }
                let answers = engine.execute_batch(commands.clone()).unwrap();
                prop_assert_eq!(answers.len(), commands.len());
                let mut appended = 0u64;
                for (i, (command, got)) in commands.iter().zip(&answers).enumerate() {
                    if i == kinds.len() {
                        if let Ok(first) = &answers[0] {
                            let again = got
                                .as_ref()
                                .map_err(|e| TestCaseError::fail(e.to_string()))?;
                            prop_assert!(again.repeated);
                            prop_assert_eq!(&again.events, &first.events);
                            prop_assert!(again.notifications.is_empty());
                            continue;
                        }
                    }
                    past.push(command.kind.clone());
                    // A batch does not sweep other conversations' expired held acks.
                    model.sweeps_when_total_full = false;
                    let expected = model.exec(&engine.policy(), clock.now_ms(), &command.kind);
                    model.sweeps_when_total_full = true;
                    match (got, &expected) {
                        (Ok(o), Ok(e)) => {
                            prop_assert!(!o.repeated);
                            prop_assert_eq!(!o.events.is_empty(), e.changed, "{:?}", command.kind);
                            prop_assert_eq!(o.note, e.note);
                            prop_assert_eq!(&o.notifications, &e.notifications);
                            appended += o.events.len() as u64;
                            accepted.push((command.clone(), o.clone(), reopenings));
                        }
                        (Err(EngineError::Rejected(g)), Err(e)) => prop_assert_eq!(g, e),
                        _ => prop_assert!(
                            false,
                            "batch: engine {:?} vs model {:?} for {:?}",
                            got.as_ref().map(|o| o.events.len()),
                            expected,
                            command.kind
                        ),
                    }
                }
                prop_assert_eq!(engine.head(), head + appended);
                compare(&engine, &model)?;
                continue;
            }
            Step::Restart => {
                seen.extend(live.try_iter().map(|n| n.expect("the subscriber kept up")));
                drop(engine);
                engine = open(opener, &clock, open_policy, budget);
                reopenings += 1;
                let start;
                (start, live) = engine.subscribe(1 << 20);
                // Everything before the restart was durable and published; nothing is pending.
                prop_assert_eq!(start, engine.head());
                continue;
            }
        };
        past.push(kind.clone());
        let head = engine.head();
        let expected = model.exec(&engine.policy(), clock.now_ms(), &kind);
        let command = Command {
            id: CommandId(Uuid::from_u128((1 << 100) + next_id)),
            at_ms: clock.now_ms(),
            kind: kind.clone(),
        };
        next_id += 1;
        let got = engine.execute_command(command.clone());
        if let Ok(o) = &got {
            accepted.push((command, o.clone(), reopenings));
        }
        match (&got, &expected) {
            (Ok(o), Ok(e)) => {
                prop_assert_eq!(!o.events.is_empty(), e.changed, "{:?}", kind);
                prop_assert_eq!(o.note, e.note);
                prop_assert_eq!(&o.notifications, &e.notifications);
            }
            (Err(EngineError::Rejected(g)), Err(e)) => {
                prop_assert_eq!(g, e);
                // Refused for the store-wide bound, the engine may first have dropped
                // expired acks elsewhere (commands of its own); else nothing is written.
                if !matches!(g, DomainError::EarlyAcksFull { .. }) {
                    prop_assert_eq!(engine.head(), head, "a rejected command wrote to the log");
                }
            }
            _ => prop_assert!(
                false,
                "engine {:?} vs model {:?} for {:?}",
                got.as_ref().map(|o| o.events.len()),
                expected,
                kind
            ),
        }
        compare(&engine, &model)?;
    }
    seen.extend(live.try_iter().map(|n| n.expect("the subscriber kept up")));
    // Live notifications across restarts == notifications recomputed from the log.
    let recomputed = engine.notifications_since(0).unwrap();
    if opener.positions_kept() {
        prop_assert_eq!(&seen, &recomputed);
    } else {
        // Numbered anew by each reopening: the same notifications, in another order.
        let unnumbered = |list: &[Positioned]| {
            let mut out: Vec<String> = list
                .iter()
                .map(|p| format!("{:?}", p.notification))
                .collect();
            out.sort();
            out
        };
        prop_assert_eq!(unnumbered(&seen), unnumbered(&recomputed));
    }
    // Every partition, badge and list == a cold fold; time travel to the head == the fold.
    let mut events = Vec::new();
    engine.log().replay(0, |e| events.push(e.event)).unwrap();
    let difference = checks::difference_from_cold_fold(&engine, &events)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(difference, None);
    prop_assert_eq!(
        engine.state_at(engine.head()).unwrap(),
        State::from_events(&events)
    );
    Ok(())
}
