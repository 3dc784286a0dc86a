//! A 3-node JetStream cluster on 127.0.0.1, 3 replicas: the leader of the partition's stream is
//! killed with SIGKILL mid-run and restarted later. Every acknowledged append is stored exactly
//! once, each conversation's in order; appends whose answer was lost are retried with the same
//! events and recognised.

mod support;

use receipt_domain::*;
use receipt_jetstream::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::NatsCluster;
use uuid::Uuid;

fn decision(c: &ConversationId, tag: u128) -> Vec<Event> {
    let ConversationId::Group(g) = c else {
        unreachable!("groups only here")
    };
    vec![Event {
        id: EventId(Uuid::from_u128(tag)),
        at_ms: 1_000,
        body: EventBody::MemberJoined {
            group: g.clone(),
            user: UserId::new(format!("u{tag}")).unwrap(),
            role: Role::Member,
        },
    }]
}

/// Connects once the cluster has elected its JetStream leaders (a few seconds after start).
fn connect(options: &JetStreamOptions) -> JetStreamLog {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match JetStreamLog::connect(options) {
            Ok(log) => return log,
            Err(e) if Instant::now() < deadline => {
                eprintln!("cluster not ready yet: {e}");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => panic!("the cluster never became ready: {e}"),
        }
    }
}

#[test]
fn killing_the_stream_leader_loses_no_acknowledged_append() {
    const DECISIONS: u128 = 240;
    let mut cluster = NatsCluster::start(3);
    let options = JetStreamOptions::new(cluster.urls())
        .with_partitions(1)
        .with_replicas(3);
    let log = connect(&options);
    let conversations: Vec<ConversationId> = (0..6)
        .map(|i| ConversationId::Group(GroupId::new(format!("g{i}")).unwrap()))
        .collect();
    let mut versions: HashMap<ConversationId, u64> = HashMap::new();
    let mut acked: HashMap<ConversationId, Vec<Event>> = HashMap::new();
    let (mut killed, mut retried, mut duplicates) = (None, 0, 0);
    let mut failover = None;
    let started = Instant::now();
    for k in 0..DECISIONS {
        if k == DECISIONS / 3 {
            let leader = log
                .partition_leader(0)
                .unwrap()
                .expect("a replicated stream has a leader");
            killed = Some((cluster.kill(&leader), Instant::now()));
        }
        if k == 2 * DECISIONS / 3 {
            let (i, _) = killed.expect("killed above");
            cluster.restart(i);
        }
        let c = &conversations[(k % 6) as usize];
        let events = decision(c, k + 1);
        let v = versions.get(c).copied().unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(60);
        let appended = loop {
            match log.append(c, v, &events) {
                Ok(a) => break a,
                // The answer was lost (a leader change): the same events again.
                Err(JetStreamError::Request { .. }) if Instant::now() < deadline => {
                    retried += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("decision {k}: {e}"),
            }
        };
        duplicates += u32::from(appended.duplicate);
        if let (Some((_, at)), None) = (killed, failover) {
            failover = Some(at.elapsed());
        }
        assert_eq!(appended.version, v + 1);
        versions.insert(c.clone(), appended.version);
        acked.entry(c.clone()).or_default().extend(events);
    }
    eprintln!(
        "{DECISIONS} decisions in {:?}; first ack {:?} after the leader was killed; {retried} retries, {duplicates} recognised as stored",
        started.elapsed(),
        failover.expect("appends went on after the kill")
    );
    // A new client reads back every acknowledged decision exactly once, in order.
    let reader = connect(&options);
    for c in &conversations {
        assert_eq!(reader.read_conversation(c).unwrap(), acked[c], "{c}");
    }
    let mut replayed = 0;
    reader.replay_partition(0, 1, |_, _| replayed += 1).unwrap();
    assert_eq!(replayed, DECISIONS as usize, "no decision stored twice");
}
