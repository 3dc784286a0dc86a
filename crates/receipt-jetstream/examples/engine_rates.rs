//! Durable commands per second through the Engine (`execute_command`, the call a service
//! makes), on sled and on JetStream, with the same workload split the same way among 1 and 16
//! client threads; then the replay of a reopening and an engine-level failover. Servers are
//! started by this program on 127.0.0.1. Prints a table.
//!
//! `NATS_SERVER_BIN=target/nats/bin/nats-server cargo run --release -p receipt-jetstream --example engine_rates`
//! (`-- --commands N`: commands of the 16-thread run, default 20,000; the 1-thread run does a
//! quarter of them.)
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

const PARTITIONS: u32 = 16;

/// The workload's commands split among `threads` clients by conversation (a message-only
/// command goes with its message's conversation), each client's in the workload's order.
fn split(commands: &[Command], threads: usize) -> Vec<Vec<Command>> {
    let mut sent: HashMap<MessageId, ConversationId> = HashMap::new();
    let mut parts = vec![Vec::new(); threads];
    for c in commands {
        if let Some((message, conversation)) = c.kind.sent_message() {
            sent.insert(message, conversation.clone());
        }
        let conversation = c
            .kind
            .named_conversation()
            .or_else(|| c.kind.named_message().and_then(|m| sent.get(&m).cloned()));
        let part = conversation.map_or(0, |c| partition_of(&c, threads as u32) as usize);
        parts[part].push(c.clone());
    }
    parts
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

fn connect(url: &str, replicas: usize, prefix: &str) -> Arc<JetStreamLog> {
    let options = JetStreamOptions::new(url)
        .with_partitions(PARTITIONS)
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
                .is_some_and(|conv| partition_of(&conv, PARTITIONS) == 0)
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
    println!("{PARTITIONS} partitions; the standard workload, split by conversation; accepted commands/s (events/s)");
    println!();
    println!("| log | 1 thread | 16 threads | 16 threads, 8 per `execute_batch` | reopening: replay, fold |");
    println!("| --- | ---: | ---: | ---: | --- |");
    let (small_config, small) = workload(commands / 4, 1);
    let (config, big) = workload(commands, 2);
    let one_parts = split(&small, 1);
    let sixteen_parts = split(&big, 16);

    let dir = tempfile::tempdir().expect("dir");
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
        let log_one = connect(&url, replicas, &format!("one{n}"));
        let engine = open(&log_one, &small_config);
        let one = run(&engine, &one_parts, 1);
        drop(engine);
        let log = connect(&url, replicas, &format!("sixteen{n}"));
        let engine = open(&log, &config);
        let sixteen = run(&engine, &sixteen_parts, 1);
        drop(engine);
        let log_batched = connect(&url, replicas, &format!("batched{n}"));
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
    let log = connect(&cluster.urls(), 3, "failover");
    println!();
    println!(
        "Failover (3-node cluster): {}",
        failover(&mut cluster, &log)
    );
    for line in reopenings {
        println!("{line}");
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
