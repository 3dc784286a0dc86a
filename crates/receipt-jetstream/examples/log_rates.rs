//! Append and replay rates of the JetStream log alone (`examples/engine_rates.rs` measures the
//! Engine on it), on servers this program starts on 127.0.0.1: one server with its default sync (files
//! synced every 2 minutes), one server syncing every write (`sync_interval: always`), and a
//! 3-node cluster with 3 replicas (default sync). Prints a table.
//!
//! `NATS_SERVER_BIN=target/nats/bin/nats-server cargo run --release -p receipt-jetstream --example log_rates`
//! (`-- --decisions N` per run; 8 partitions; each decision one event of about 100 bytes.)

#[path = "../tests/support/mod.rs"]
mod support;

use receipt_domain::*;
use receipt_jetstream::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn decision(c: &ConversationId, tag: u128) -> Vec<Event> {
    let ConversationId::Group(g) = c else {
        unreachable!("groups only")
    };
    vec![Event {
        id: EventId(uuid::Uuid::from_u128(tag)),
        at_ms: 1_000,
        body: EventBody::MemberJoined {
            group: g.clone(),
            user: UserId::new(format!("user{tag}")).expect("valid"),
            role: Role::Member,
        },
    }]
}

fn connect(url: &str, replicas: usize, prefix: &str) -> JetStreamLog {
    let options = JetStreamOptions::new(url)
        .with_partitions(8)
        .with_replicas(replicas)
        .with_prefix(prefix);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match JetStreamLog::connect(&options) {
            Ok(log) => return log,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => panic!("no log: {e}"),
        }
    }
}

/// `threads` writers, each appending `per_thread` decisions to its own 8 conversations (so none
/// conflicts), one at a time or (`together`) 8 per `append_many` call; acknowledged decisions
/// per second.
fn append_rate(
    log: &Arc<JetStreamLog>,
    threads: usize,
    per_thread: usize,
    tag: u128,
    together: bool,
) -> f64 {
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                let conversations: Vec<ConversationId> = (0..8)
                    .map(|i| {
                        ConversationId::Group(
                            GroupId::new(format!("r{tag}t{t}c{i}")).expect("valid"),
                        )
                    })
                    .collect();
                let mut versions = [0u64; 8];
                let id = |k: usize| tag << 64 | (t as u128) << 32 | k as u128;
                if together {
                    for round in 0..per_thread / 8 {
                        let batch: Vec<(ConversationId, u64, Vec<Event>)> = (0..8)
                            .map(|i| {
                                let c = conversations[i].clone();
                                let events = decision(&c, id(round * 8 + i));
                                (c, versions[i], events)
                            })
                            .collect();
                        let answers = log.append_many(&batch).expect("append");
                        for (i, answer) in answers.into_iter().enumerate() {
                            versions[i] = answer.expect("accepted").version;
                        }
                    }
                    return;
                }
                for k in 0..per_thread {
                    let i = k % 8;
                    let c = &conversations[i];
                    let a = log
                        .append(c, versions[i], &decision(c, id(k)))
                        .expect("append");
                    versions[i] = a.version;
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("writer");
    }
    (threads * per_thread) as f64 / started.elapsed().as_secs_f64()
}

/// Replays every partition from its start: events per second.
fn replay_rate(log: &JetStreamLog) -> f64 {
    let started = Instant::now();
    let mut events = 0u64;
    for p in 0..log.partitions() {
        log.replay_partition(p, 1, |_, _| events += 1)
            .expect("replay");
    }
    events as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let decisions: usize = std::env::args()
        .skip_while(|a| a != "--decisions")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(4_000);
    println!(
        "| setup | 1 writer, decisions/s | 16 writers, decisions/s | 16 writers, 8 per call, decisions/s | replay, events/s |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    let single = support::NatsServer::start();
    let always = support::NatsServer::start_syncing(true);
    let cluster = support::NatsCluster::start(3);
    let setups: [(&str, String, usize); 3] = [
        (
            "1 server, default sync (every 2 min)",
            single.url.clone(),
            1,
        ),
        ("1 server, sync_interval: always", always.url.clone(), 1),
        (
            "3-node cluster, 3 replicas, default sync",
            cluster.urls(),
            3,
        ),
    ];
    for (n, (name, url, replicas)) in setups.into_iter().enumerate() {
        let log = Arc::new(connect(&url, replicas, &format!("bench{n}")));
        let one = append_rate(&log, 1, decisions / 4, 1, false);
        let sixteen = append_rate(&log, 16, decisions / 16, 2, false);
        let together = append_rate(&log, 16, decisions / 4, 3, true);
        let replay = replay_rate(&log);
        println!("| {name} | {one:.0} | {sixteen:.0} | {together:.0} | {replay:.0} |");
    }
}
