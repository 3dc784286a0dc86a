//! Criterion micro-benchmarks of the engine: fold, append (batch size x durability), rebuild
//! (with and without snapshot), queries, a thread reply with 2 followers against one with 3,000,
//! and a recall in a direct chat against one in a
//! 3,000-member group. `cargo bench --bench criterion`.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use receipt_bench::check::query_sample;
use receipt_bench::plan::Plan;
use receipt_domain::*;
use receipt_store::{AppendRequest, Durability, SledLog};
use receipt_workload::WorkloadConfig;
use std::time::Duration;

fn workload() -> (Vec<Vec<Event>>, State) {
    let plan = Plan::decide(&WorkloadConfig::sized(50_000, 42), None);
    let decisions = plan
        .commands
        .into_iter()
        .filter_map(|p| p.events)
        .filter(|e| !e.is_empty())
        .collect();
    (decisions, plan.state)
}

fn fold(c: &mut Criterion) {
    let (decisions, _) = workload();
    let events: Vec<Event> = decisions.into_iter().flatten().collect();
    let mut g = c.benchmark_group("fold");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("standard workload", |b| {
        b.iter(|| State::from_events(&events))
    });
    g.finish();
}

fn append(c: &mut Criterion) {
    let (decisions, _) = workload();
    let mut g = c.benchmark_group("append");
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    for durability in [
        Durability::EveryAppend,
        Durability::GroupCommit,
        Durability::Buffered,
    ] {
        for batch in [1usize, 10, 100, 1000] {
            let n = if batch == 1 { 200 } else { 2000 };
            let sample = &decisions[..n];
            g.throughput(Throughput::Elements(
                sample.iter().map(Vec::len).sum::<usize>() as u64,
            ));
            g.bench_with_input(
                BenchmarkId::new(format!("{durability:?}"), batch),
                &batch,
                |b, &batch| {
                    b.iter_batched(
                        || {
                            let dir = tempfile::tempdir().expect("tempdir");
                            let log = SledLog::open_dir(dir.path(), durability).expect("open");
                            (dir, log)
                        },
                        |(_dir, log)| {
                            let mut versions = std::collections::HashMap::new();
                            for chunk in sample.chunks(batch) {
                                let requests: Vec<AppendRequest> = chunk
                                    .iter()
                                    .map(|events| {
                                        let conversation = events[0].body.conversation();
                                        let v =
                                            versions.entry(conversation.clone()).or_insert(0u64);
                                        let expected_version = *v;
                                        *v += events.len() as u64;
                                        AppendRequest {
                                            conversation,
                                            expected_version,
                                            events: events.clone(),
                                        }
                                    })
                                    .collect();
                                log.append_batch(&requests).expect("append");
                            }
                        },
                        BatchSize::PerIteration,
                    )
                },
            );
        }
    }
    g.finish();
}

fn rebuild(c: &mut Criterion) {
    let (decisions, state) = workload();
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let log = SledLog::open_dir(dir.path(), Durability::Buffered).expect("open");
        for chunk in decisions.chunks(500) {
            let mut versions = std::collections::HashMap::new();
            let requests: Vec<AppendRequest> = chunk
                .iter()
                .map(|events| {
                    let conversation = events[0].body.conversation();
                    let base = *versions
                        .entry(conversation.clone())
                        .or_insert_with(|| log.version(&conversation).expect("version"));
                    versions.insert(conversation.clone(), base + events.len() as u64);
                    AppendRequest {
                        conversation,
                        expected_version: base,
                        events: events.clone(),
                    }
                })
                .collect();
            log.append_batch(&requests).expect("append");
        }
        log.flush().expect("flush");
    }
    let events = decisions.iter().map(Vec::len).sum::<usize>() as u64;
    let mut g = c.benchmark_group("rebuild");
    g.sample_size(10).throughput(Throughput::Elements(events));
    g.bench_function("cold open + full replay", |b| {
        b.iter(|| {
            SledLog::open_dir(dir.path(), Durability::Buffered)
                .expect("open")
                .rebuild()
                .expect("rebuild")
        })
    });
    SledLog::open_dir(dir.path(), Durability::Buffered)
        .expect("open")
        .save_snapshot(events, &state)
        .expect("snapshot");
    g.bench_function("cold open + snapshot", |b| {
        b.iter(|| {
            SledLog::open_dir(dir.path(), Durability::Buffered)
                .expect("open")
                .recover()
                .expect("recover")
        })
    });
    g.finish();
}

fn queries(c: &mut Criterion) {
    let plan = Plan::decide(&WorkloadConfig::sized(50_000, 42), None);
    let (pairs, messages) = query_sample(&plan);
    let state = &plan.state;
    let policy = Policy::all_receipts_on();
    let senders: Vec<(MessageId, UserId)> = messages
        .iter()
        .filter_map(|m| Some((*m, state.message_sender(m)?)))
        .collect();
    let mut g = c.benchmark_group("queries");
    let mut i = 0;
    g.bench_function("unread", |b| {
        b.iter(|| {
            i = (i + 1) % pairs.len();
            state.unread_count(&pairs[i].0, &pairs[i].1)
        })
    });
    g.bench_function("badge", |b| {
        b.iter(|| {
            i = (i + 1) % pairs.len();
            state.total_unread(&pairs[i].0)
        })
    });
    g.bench_function("ack count", |b| {
        b.iter(|| {
            i = (i + 1) % senders.len();
            state.group_ack_count(&policy, &senders[i].1, &senders[i].0)
        })
    });
    g.bench_function("reader page of 20", |b| {
        b.iter(|| {
            i = (i + 1) % senders.len();
            state.fetch_group_acks(&policy, &senders[i].1, &senders[i].0, None, 20)
        })
    });
    g.finish();
}

/// A conversation with `messages` messages (half of its members having read each in a group,
/// the peer every other one in a direct chat) and the commands recalling them, oldest first.
fn recall_setup(members: usize, messages: usize) -> (State, Vec<Command>) {
    let user = |i: usize| UserId::new(format!("u{i}")).expect("valid");
    let conversation = if members == 2 {
        ConversationId::direct(user(0), user(1)).expect("distinct")
    } else {
        ConversationId::Group(GroupId::new("big").expect("valid"))
    };
    let mut events = Vec::new();
    let mut id = 0u128;
    let mut event = |body| {
        id += 1;
        Event {
            id: EventId(receipt_engine::uuid::Uuid::from_u128(id)),
            at_ms: 1_000,
            body,
        }
    };
    if let ConversationId::Group(group) = &conversation {
        for i in 0..members {
            events.push(event(EventBody::MemberJoined {
                group: group.clone(),
                user: user(i),
                role: if i == 0 { Role::Owner } else { Role::Member },
            }));
        }
    }
    let mut commands = Vec::with_capacity(messages);
    for n in 0..messages {
        let message = MessageId(receipt_engine::uuid::Uuid::from_u128(1 << 64 | n as u128));
        events.push(event(EventBody::MessageSent {
            conversation: conversation.clone(),
            message,
            sender: user(0),
            group_ack: GroupAck::NotRequested,
        }));
        if n % 2 == 0 {
            events.push(event(EventBody::MessageMarkedRead {
                conversation: conversation.clone(),
                message,
                reader: user(1 + n % (members - 1)),
            }));
        }
        commands.push(Command {
            id: CommandId(receipt_engine::uuid::Uuid::from_u128(2 << 64 | n as u128)),
            at_ms: 1_000,
            kind: CommandKind::RecallMessage {
                message,
                by: user(0),
            },
        });
    }
    (State::from_events(&events), commands)
}

/// The target: a recall in a 3,000-member group costs at most 1.2x one in a direct
/// chat. Each iteration decides and folds the recall of the next message of one warm state
/// (copying a 3,000-member state per iteration would measure the copy's cache misses).
fn recall(c: &mut Criterion) {
    let mut g = c.benchmark_group("recall");
    for members in [2usize, 3_000] {
        g.bench_with_input(
            BenchmarkId::new("decide + fold", format!("{members} members")),
            &members,
            |b, &members| {
                b.iter_custom(|iters| each_command_timed(iters, |n| recall_setup(members, n)))
            },
        );
    }
    g.finish();
}

/// Decides and folds `iters` commands, one at a time on one warm state, in rounds of at most
/// 20,000 built by `setup(n)` (untimed): the time of the decisions and folds only.
fn each_command_timed(iters: u64, setup: impl Fn(usize) -> (State, Vec<Command>)) -> Duration {
    const ROUND: u64 = 20_000;
    let policy = Policy::all_receipts_on();
    let mut timed = Duration::ZERO;
    let mut done = 0u64;
    while done < iters {
        let n = (iters - done).min(ROUND) as usize;
        let (mut state, commands) = setup(n);
        let start = std::time::Instant::now();
        for command in &commands {
            let d = decide(&state, &policy, command).expect("an accepted command");
            for e in &d.events {
                state.apply(e);
            }
        }
        timed += start.elapsed();
        done += n as u64;
        std::hint::black_box(state);
    }
    timed
}

/// A 3,000-member group with one message (by `u0`), its thread followed by `followers` members
/// besides `u0` and the replier `u1` (who follow from the first reply), and `replies` reply
/// commands by `u1`.
fn thread_setup(followers: usize, replies: usize) -> (State, Vec<Command>) {
    const MEMBERS: usize = 3_000;
    let user = |i: usize| UserId::new(format!("u{i}")).expect("valid");
    let group = GroupId::new("big").expect("valid");
    let conversation = ConversationId::Group(group.clone());
    let root = MessageId(receipt_engine::uuid::Uuid::from_u128(1 << 64));
    let mut events = Vec::new();
    let mut id = 0u128;
    let mut event = |body| {
        id += 1;
        Event {
            id: EventId(receipt_engine::uuid::Uuid::from_u128(id)),
            at_ms: 1_000,
            body,
        }
    };
    for i in 0..MEMBERS {
        events.push(event(EventBody::MemberJoined {
            group: group.clone(),
            user: user(i),
            role: if i == 0 { Role::Owner } else { Role::Member },
        }));
    }
    events.push(event(EventBody::MessageSent {
        conversation: conversation.clone(),
        message: root,
        sender: user(0),
        group_ack: GroupAck::NotRequested,
    }));
    for i in 0..followers {
        events.push(event(EventBody::ThreadFollowChanged {
            conversation: conversation.clone(),
            root,
            user: user(2 + i),
            following: true,
        }));
    }
    let commands = (0..replies)
        .map(|n| Command {
            id: CommandId(receipt_engine::uuid::Uuid::from_u128(2 << 64 | n as u128)),
            at_ms: 1_000,
            kind: CommandKind::SendThreadReply {
                conversation: conversation.clone(),
                root,
                message: MessageId(receipt_engine::uuid::Uuid::from_u128(3 << 64 | n as u128)),
                sender: user(1),
            },
        })
        .collect();
    (State::from_events(&events), commands)
}

/// A thread reply's cost should not follow its followers (issue 12: O(1) folds): decide and
/// fold of the next reply in a thread with 2 followers (the root's sender and the replier)
/// against one with 3,000 (every member), on one warm state.
fn thread_reply(c: &mut Criterion) {
    let mut g = c.benchmark_group("thread_reply");
    for followers in [0usize, 2_998] {
        g.bench_with_input(
            BenchmarkId::new("decide + fold", format!("{} followers", followers + 2)),
            &followers,
            |b, &followers| {
                b.iter_custom(|iters| each_command_timed(iters, |n| thread_setup(followers, n)))
            },
        );
    }
    g.finish();
}

criterion_group!(
    benches,
    fold,
    append,
    rebuild,
    queries,
    recall,
    thread_reply
);
criterion_main!(benches);
