//! Durable commands per second through the Engine (`execute_command`, the call a service
//! makes), on sled and on JetStream, with the same workload split the same way among 1 and 16
//! client threads; then the replay of a reopening and an engine-level failover. Servers are
//! started by this program on 127.0.0.1. Prints a table.
//!
//! `NATS_SERVER_BIN=target/nats/bin/nats-server cargo run --release -p receipt-jetstream --example engine_rates`
//! (`-- --commands N`: commands of the 16-thread run, default 20,000; the 1-thread run does a
//! quarter of them. `--partitions N`: 16 by default. `--only K`: only the JetStream row K
//! (0, 1, 2), with 3 only the table of independent commands, with 4 only the failover.)
//!
//! The standard workload's 16-thread runs are bounded by its busiest client (it runs its
//! conversations' commands in order, and the busiest group has about a fifth of them; the
//! program prints the shares): a second table runs commands that depend on nothing (messages
//! round 64 direct chats per client), what 16 clients can do when none waits for another.
//!
//! What "durable" means on each side, named because it differs: sled with group commit returns
//! after `fdatasync` of its files; a JetStream server with `sync_interval: always` returns after
//! writing the message and syncing (`fsync`) its file; a default JetStream server after writing
//! it (synced every 2 minutes); a 3-replica stream after a quorum (2 of 3) stored it, unsynced.

#[path = "../tests/support/mod.rs"]
mod support;

use receipt_engine::*;
use receipt_jetstream::*;
use receipt_workload::{Workload, WorkloadConfig};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The conversation each command concerns, in order: the one it names, or for a command that
/// names only a message, that message's conversation (`None`: neither known).
fn conversations_of(commands: &[Command]) -> Vec<Option<ConversationId>> {
    let mut sent: HashMap<MessageId, ConversationId> = HashMap::new();
    commands
        .iter()
        .map(|c| {
            if let Some((message, conversation)) = c.kind.sent_message() {
                sent.insert(message, conversation.clone());
            }
            c.kind
                .named_conversation()
                .or_else(|| c.kind.named_message().and_then(|m| sent.get(&m).cloned()))
        })
        .collect()
}

/// The workload's commands split among `threads` clients by conversation (a message-only
/// command goes with its message's conversation), each client's in the workload's order.
fn split(commands: &[Command], threads: usize) -> Vec<Vec<Command>> {
    let mut parts = vec![Vec::new(); threads];
    for (c, conversation) in commands.iter().zip(conversations_of(commands)) {
        let part = conversation.map_or(0, |c| partition_of(&c, threads as u32) as usize);
        parts[part].push(c.clone());
    }
    parts
}

/// The conversation with the most commands (a message-only command counts for its message's
/// conversation), and how many.
fn busiest_conversation(commands: &[Command]) -> (String, usize) {
    let mut counts: HashMap<ConversationId, usize> = HashMap::new();
    for conversation in conversations_of(commands).into_iter().flatten() {
        *counts.entry(conversation).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map_or((String::new(), 0), |(c, n)| (c.to_string(), n))
}

/// Runs the parts from one thread each, `per_call` commands per call (1: `execute_command`,
/// more: `execute_batch`): (accepted commands per second, events per second).
fn run<B: store::Backend>(
    engine: &Engine<B>,
    parts: &[Vec<Command>],
    per_call: usize,
) -> (f64, f64) {
    let started = Instant::now();
    let totals: Vec<(u64, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .iter()
            .map(|part| {
                s.spawn(move || {
                    let (mut accepted, mut events) = (0u64, 0u64);
                    let mut count = |answer: Result<Outcome, EngineError>| match answer {
                        Ok(o) => {
                            accepted += 1;
                            events += o.events.len() as u64;
                        }
                        Err(EngineError::Rejected(_)) => {}
                        Err(e) => panic!("{e:?}"),
                    };
                    if per_call == 1 {
                        for c in part {
                            count(engine.execute_command(c.clone()));
                        }
                    } else {
                        for chunk in part.chunks(per_call) {
                            let answers = engine.execute_batch(chunk.to_vec()).expect("batch");
                            answers.into_iter().for_each(&mut count);
                        }
                    }
                    (accepted, events)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client"))
            .collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let accepted: u64 = totals.iter().map(|t| t.0).sum();
    let events: u64 = totals.iter().map(|t| t.1).sum();
    (accepted as f64 / seconds, events as f64 / seconds)
}

fn connect(url: &str, replicas: usize, prefix: &str, partitions: u32) -> Arc<JetStreamLog> {
    let options = JetStreamOptions::new(url)
        .with_partitions(partitions)
        .with_replicas(replicas)
        .with_prefix(prefix);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match JetStreamLog::connect(&options) {
            Ok(log) => return Arc::new(log),
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for the servers: {e}");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => panic!("no log: {e}"),
        }
    }
}

/// Opens the Engine owning every partition, retrying while a freshly formed cluster has no
/// leader yet for the leases bucket ("no responders").
fn open(log: &Arc<JetStreamLog>, config: &WorkloadConfig) -> JetStreamEngine {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match JetStreamEngine::open(log.clone(), &Ownership::all("bench"), options(config)) {
            Ok(engine) => return engine,
            Err(e) if Instant::now() < deadline => {
                eprintln!("opening: {e}");
                std::thread::sleep(Duration::from_millis(300));
            }
            Err(e) => panic!("open: {e}"),
        }
    }
}

fn workload(commands: u64, seed: u64) -> (WorkloadConfig, Vec<Command>) {
    let config = WorkloadConfig::sized(commands, seed);
    (config.clone(), Workload::new(config).collect())
}

fn options(config: &WorkloadConfig) -> EngineOptions {
    EngineOptions::default().with_policy(config.policy())
}

fn row(name: &str, rates: [(f64, f64); 3], extra: &str) {
    let [one, sixteen, batched] = rates;
    println!(
        "| {name} | {:.0} ({:.0}) | {:.0} ({:.0}) | {:.0} ({:.0}) | {extra} |",
        one.0, one.1, sixteen.0, sixteen.1, batched.0, batched.1
    );
}

/// Time from SIGKILL of the leader of partition 0's stream to the next acknowledged command
/// to a conversation of that partition, the engine reopened (a replay) on the lost answer as
/// a service would; and the replay's figures.
fn failover(cluster: &mut support::NatsCluster, log: &Arc<JetStreamLog>) -> String {
    let (config, commands) = workload(3_000, 99);
    let engine = JetStreamEngine::open(log.clone(), &Ownership::all("failover"), options(&config))
        .expect("open");
    let in_zero: Vec<Command> = split(&commands, 1)[0]
        .iter()
        .filter(|c| {
            c.kind
                .named_conversation()
                .is_some_and(|conv| partition_of(&conv, log.partitions()) == 0)
        })
        .cloned()
        .collect();
    let mut engine = Some(engine);
    let mut killed_at = None;
    for (k, c) in in_zero.iter().enumerate() {
        if k == in_zero.len() / 2 {
            let leader = log.partition_leader(0).expect("leader").expect("a leader");
            cluster.kill(&leader);
            killed_at = Some(Instant::now());
        }
        loop {
            let e = engine.as_ref().expect("open");
            match e.execute_command(c.clone()) {
                Ok(_) | Err(EngineError::Rejected(_)) => break,
                Err(err) => {
                    eprintln!("{err}; reopening");
                    drop(engine.take());
                    loop {
                        match JetStreamEngine::open(
                            log.clone(),
                            &Ownership::all("failover"),
                            options(&config),
                        ) {
                            Ok(e) => {
                                engine = Some(e);
                                break;
                            }
                            Err(e) => {
                                eprintln!("reopening: {e}");
                                std::thread::sleep(Duration::from_millis(200));
                            }
                        }
                    }
                }
            }
        }
        if let Some(at) = killed_at.take() {
            return format!(
                "first ack {:.1} s after the leader's SIGKILL",
                at.elapsed().as_secs_f64()
            );
        }
    }
    "no command to partition 0".into()
}

fn main() {
    let commands: u64 = std::env::args()
        .skip_while(|a| a != "--commands")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let partitions: u32 = std::env::args()
        .skip_while(|a| a != "--partitions")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    println!("{partitions} partitions; the standard workload, split by conversation; accepted commands/s (events/s)");
    println!();
    println!("| log | 1 thread | 16 threads | 16 threads, 8 per `execute_batch` | reopening: replay, fold |");
    println!("| --- | ---: | ---: | ---: | --- |");
    let (small_config, small) = workload(commands / 4, 1);
    let (config, big) = workload(commands, 2);
    let one_parts = split(&small, 1);
    let sixteen_parts = split(&big, 16);
    let busiest_client = sixteen_parts.iter().map(Vec::len).max().unwrap_or(0);
    let (busiest, in_busiest) = busiest_conversation(&big);
    // A client runs its commands in order, so the 16-thread runs last as long as the busiest
    // client's: what bounds them on every log here.
    eprintln!(
        "16 clients: the busiest sends {busiest_client} of {} commands ({:.0} %); the busiest conversation, {busiest}, has {in_busiest} ({:.0} %)",
        big.len(),
        100.0 * busiest_client as f64 / big.len() as f64,
        100.0 * in_busiest as f64 / big.len() as f64
    );

    // `--only N`: only JetStream setup N (0, 1, 2: the rows below), for profiling one.
    let only: Option<usize> = std::env::args()
        .skip_while(|a| a != "--only")
        .nth(1)
        .and_then(|s| s.parse().ok());
    let dir = tempfile::tempdir().expect("dir");
    if only.is_none() {
        let one = run(
            &Engine::open(dir.path().join("one"), options(&small_config)).expect("sled"),
            &one_parts,
            1,
        );
        let sixteen = run(
            &Engine::open(dir.path().join("sixteen"), options(&config)).expect("sled"),
            &sixteen_parts,
            1,
        );
        let batched = run(
            &Engine::open(dir.path().join("batched"), options(&config)).expect("sled"),
            &sixteen_parts,
            8,
        );
        row(
            "sled, group commit (`fdatasync` per commit)",
            [one, sixteen, batched],
            "",
        );
    }

    let single = support::NatsServer::start();
    let always = support::NatsServer::start_syncing(true);
    let mut cluster = support::NatsCluster::start(3);
    let mut reopenings = Vec::new();
    let setups: [(&str, String, usize); 3] = [
        (
            "JetStream, 1 server, `sync_interval: always` (`fsync` per write)",
            always.url.clone(),
            1,
        ),
        (
            "JetStream, 1 server, default sync (every 2 min)",
            single.url.clone(),
            1,
        ),
        (
            "JetStream, 3-node cluster, 3 replicas (quorum of 2, default sync)",
            cluster.urls(),
            3,
        ),
    ];
    for (n, (name, url, replicas)) in setups.into_iter().enumerate() {
        if only.is_some_and(|o| o != n) {
            continue;
        }
        let log_one = connect(&url, replicas, &format!("one{n}"), partitions);
        let engine = open(&log_one, &small_config);
        let one = run(&engine, &one_parts, 1);
        drop(engine);
        let log = connect(&url, replicas, &format!("sixteen{n}"), partitions);
        let engine = open(&log, &config);
        let sixteen = run(&engine, &sixteen_parts, 1);
        drop(engine);
        let log_batched = connect(&url, replicas, &format!("batched{n}"), partitions);
        let engine = open(&log_batched, &config);
        let batched = run(&engine, &sixteen_parts, 8);
        drop(engine);
        let reopened = open(&log, &config);
        let r = reopened.replayed();
        drop(reopened);
        let replay = format!(
            "{} events: replay {:.0} events/s ({} partitions, one after another), fold {:.0} events/s",
            r.events,
            r.events as f64 / r.replay.as_secs_f64(),
            r.partitions,
            r.events as f64 / r.fold.as_secs_f64()
        );
        row(name, [one, sixteen, batched], &replay);
        if n == 1 {
            reopenings.push(reopening(&log, &config));
        }
    }
    if only.is_none_or(|o| o == 3) {
        independent_table(commands as usize, partitions, &single.url, &cluster.urls());
    }
    if only.is_some_and(|o| o != 4) {
        return;
    }
    let log = connect(&cluster.urls(), 3, "failover", partitions);
    println!();
    println!(
        "Failover (3-node cluster): {}",
        failover(&mut cluster, &log)
    );
    for line in reopenings {
        println!("{line}");
    }
}

/// `threads` clients, each sending `per_thread` messages round the 64 direct chats of its own
/// users: commands that depend on nothing, so every client can keep one in flight all along
/// (the standard workload cannot: its busiest group is 22 % of its commands, in order).
fn independent(threads: usize, per_thread: usize) -> Vec<Vec<Command>> {
    let user = |t: usize, k: usize, side: &str| UserId::new(format!("c{t}{side}{k}")).expect("id");
    (0..threads)
        .map(|t| {
            (0..per_thread)
                .map(|i| {
                    let k = i % 64;
                    Command {
                        id: CommandId(uuid::Uuid::now_v7()),
                        at_ms: 1_000 + i as u64,
                        kind: CommandKind::SendMessage {
                            conversation: ConversationId::direct(user(t, k, "a"), user(t, k, "b"))
                                .expect("two users"),
                            message: MessageId(uuid::Uuid::now_v7()),
                            sender: user(t, k, "a"),
                            needs_group_ack: false,
                        },
                    }
                })
                .collect()
        })
        .collect()
}

/// The table of [`independent`] commands, 16 clients, on sled and on JetStream.
fn independent_table(commands: usize, partitions: u32, single: &str, cluster: &str) {
    let parts = independent(16, commands / 16);
    let config = WorkloadConfig::sized(1, 1);
    println!();
    println!(
        "Independent commands ({} messages sent round 64 direct chats per client), 16 clients: accepted commands/s",
        commands / 16 * 16
    );
    println!();
    println!("| log | 16 clients |");
    println!("| --- | ---: |");
    let dir = tempfile::tempdir().expect("dir");
    let sled = run(
        &Engine::open(dir.path().join("independent"), options(&config)).expect("sled"),
        &parts,
        1,
    );
    println!(
        "| sled, group commit (`fdatasync` per commit) | {:.0} |",
        sled.0
    );
    for (n, (name, url, replicas)) in [
        ("JetStream, 1 server, default sync (every 2 min)", single, 1),
        (
            "JetStream, 3-node cluster, 3 replicas (quorum of 2, default sync)",
            cluster,
            3,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let log = connect(url, replicas, &format!("independent{n}"), partitions);
        let engine = open(&log, &config);
        println!("| {name} | {:.0} |", run(&engine, &parts, 1).0);
    }
}

/// Opening times on the 16-thread log of the default-sync server: the replica in memory (read
/// from the server), on sled the first time (read from the server), and on sled again after a
/// clean close (nothing to read).
fn reopening(log: &Arc<JetStreamLog>, config: &WorkloadConfig) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let on_disk = || {
        let started = Instant::now();
        let engine = JetStreamEngine::open_in(
            log.clone(),
            &Ownership::all("bench"),
            options(config),
            dir.path(),
        )
        .expect("open_in");
        // Timed up to here: the close (a flush and the marker) is not part of opening.
        (started.elapsed(), engine.replayed().events)
    };
    let started = Instant::now();
    let engine = open(log, config);
    let (memory, memory_events) = (started.elapsed(), engine.replayed().events);
    drop(engine);
    let (first, first_events) = on_disk();
    let (again, again_events) = on_disk();
    format!(
        "Opening (1 server, {memory_events} events in 16 partitions): replica in memory {:.0} ms; on sled, first {:.0} ms ({first_events} events read), after a clean close {:.0} ms ({again_events} read)",
        memory.as_secs_f64() * 1e3,
        first.as_secs_f64() * 1e3,
        again.as_secs_f64() * 1e3
    )
}
