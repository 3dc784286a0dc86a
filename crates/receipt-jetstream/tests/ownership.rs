//! Ownership on a real server: one owner per partition at a time; a replaced owner is fenced by
//! the server on its next append, whichever conversation it names, and says so.

mod support;

use receipt_domain::*;
use receipt_jetstream::*;
use std::time::Duration;
use support::NatsServer;
use uuid::Uuid;

fn group(g: &str) -> ConversationId {
    ConversationId::Group(GroupId::new(g).unwrap())
}

fn decision(c: &ConversationId, tag: u128) -> Vec<Event> {
    vec![Event {
        id: EventId(Uuid::from_u128(tag)),
        at_ms: 1_000,
        body: EventBody::MemberJoined {
            group: match c {
                ConversationId::Group(g) => g.clone(),
                ConversationId::Direct { .. } => unreachable!("groups only here"),
            },
            user: UserId::new(format!("u{tag}")).unwrap(),
            role: Role::Member,
        },
    }]
}

/// `n` groups that live in partition `p`.
fn groups_in(log: &JetStreamLog, p: u32, n: usize) -> Vec<ConversationId> {
    (0..)
        .map(|i| group(&format!("g{i}")))
        .filter(|c| log.partition(c) == p)
        .take(n)
        .collect()
}

fn connect(server: &NatsServer) -> JetStreamLog {
    JetStreamLog::connect(&JetStreamOptions::new(server.url.clone()).with_partitions(4)).unwrap()
}

#[test]
fn a_replaced_owner_is_fenced_and_told() {
    let server = NatsServer::start();
    let (a, b) = (connect(&server), connect(&server));
    let [c1, c2]: [ConversationId; 2] = groups_in(&a, 0, 2).try_into().unwrap();
    let ttl = Duration::from_millis(400);
    let lease_a = a.acquire(0, "engine-a", ttl).unwrap();
    match b.acquire(0, "engine-b", ttl) {
        Err(JetStreamError::LeaseHeld {
            partition, holder, ..
        }) => {
            assert_eq!((partition, holder.as_str()), (0, "engine-a"))
        }
        other => panic!("{other:?}"),
    }
    a.append_owned(&lease_a, &c1, 0, &decision(&c1, 1)).unwrap();
    a.renew(&lease_a).unwrap();
    // engine-a stops renewing (it hangs); its lease runs out and engine-b takes the partition.
    std::thread::sleep(ttl + Duration::from_millis(200));
    let lease_b = b.acquire(0, "engine-b", ttl).unwrap();
    b.append_owned(&lease_b, &c2, 0, &decision(&c2, 2)).unwrap();
    // engine-a wakes up: its append to c1 (whose version it has right) is refused by the server.
    match a.append_owned(&lease_a, &c1, 1, &decision(&c1, 3)) {
        Err(JetStreamError::Fenced { partition }) => assert_eq!(partition, 0),
        other => panic!("{other:?}"),
    }
    match a.renew(&lease_a) {
        Err(JetStreamError::LeaseLost { partition }) => assert_eq!(partition, 0),
        other => panic!("{other:?}"),
    }
    // Nothing of the refused append was stored; the new owner continues c1.
    assert_eq!(b.read_conversation(&c1).unwrap(), decision(&c1, 1));
    b.append_owned(&lease_b, &c1, 1, &decision(&c1, 4)).unwrap();
    assert_eq!(b.version(&c1).unwrap(), 2);
}

#[test]
fn an_owner_s_threads_take_turns_on_its_partition() {
    let server = NatsServer::start();
    let log = std::sync::Arc::new(connect(&server));
    let lease = std::sync::Arc::new(log.acquire(1, "engine", Duration::from_secs(30)).unwrap());
    let conversations = groups_in(&log, 1, 4);
    let threads: Vec<_> = conversations
        .iter()
        .cloned()
        .enumerate()
        .map(|(t, c)| {
            let (log, lease) = (log.clone(), lease.clone());
            std::thread::spawn(move || {
                for v in 0..25u64 {
                    let tag = (t as u128) << 32 | u128::from(v);
                    log.append_owned(&lease, &c, v, &decision(&c, tag)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for c in &conversations {
        assert_eq!(log.version(c).unwrap(), 25);
    }
    assert_eq!(log.partition_head(1).unwrap(), 100);
    // The wrong partition is refused before anything is sent.
    let other = groups_in(&log, 2, 1).remove(0);
    assert!(matches!(
        log.append_owned(&lease, &other, 0, &decision(&other, 99)),
        Err(JetStreamError::WrongPartition { partition: 1, .. })
    ));
}

#[test]
fn an_owner_s_retry_of_a_stored_append_moves_its_fence() {
    let server = NatsServer::start();
    let log = connect(&server);
    let lease = log.acquire(3, "engine", Duration::from_secs(30)).unwrap();
    let [c1, c2, c3]: [ConversationId; 3] = groups_in(&log, 3, 3).try_into().unwrap();
    // An owned append whose answer was lost, stored by its first attempt: the log knows c1's
    // new tip (as after a lost answer it reads it again), the lease's fence does not.
    log.append(&c1, 0, &decision(&c1, 1)).unwrap();
    let retried = log
        .append_owned_retrying(&lease, &c1, 0, &decision(&c1, 1), Duration::from_secs(5))
        .unwrap();
    assert!(retried.duplicate, "{retried:?}");
    // The retry recognised before sending moved the fence: the owner's next append to the
    // partition is not refused as fenced by the owner's own message.
    log.append_owned(&lease, &c2, 0, &decision(&c2, 2)).unwrap();
    // The same when the retry is sent and refused by the server (another client stored the
    // first attempt, so this one's cached tip is behind).
    let other = connect(&server);
    other.append(&c3, 0, &decision(&c3, 3)).unwrap();
    let retried = log
        .append_owned_retrying(&lease, &c3, 0, &decision(&c3, 3), Duration::from_secs(5))
        .unwrap();
    assert!(retried.duplicate, "{retried:?}");
    log.append_owned(&lease, &c1, 1, &decision(&c1, 4)).unwrap();
    assert_eq!(log.partition_head(3).unwrap(), 4);
    assert_eq!([&c1, &c2, &c3].map(|c| log.version(c).unwrap()), [2, 1, 1]);
}

#[test]
fn an_append_unanswered_past_the_append_timeout_is_sent_again_and_stored_once() {
    let server = NatsServer::start();
    let log = JetStreamLog::connect(
        &JetStreamOptions::new(server.url.clone())
            .with_partitions(4)
            .with_append_timeout(Duration::from_millis(200)),
    )
    .unwrap();
    let lease = log.acquire(2, "engine", Duration::from_secs(60)).unwrap();
    let [c1, c2]: [ConversationId; 2] = groups_in(&log, 2, 2).try_into().unwrap();
    log.append_owned(&lease, &c1, 0, &decision(&c1, 1)).unwrap();
    // The server stops answering for a while: every attempt meanwhile counts as lost after
    // 200 ms and is sent again; once it wakes it reads them all, in order.
    let paused = |what: &dyn Fn()| {
        server.signal("-STOP");
        let started = std::time::Instant::now();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(1_200));
                server.signal("-CONT");
            });
            what();
        });
        // The pause covered the call: it could only return after the server woke.
        assert!(started.elapsed() >= Duration::from_millis(1_200));
    };
    paused(&|| {
        let appended = log
            .append_owned_retrying(&lease, &c1, 1, &decision(&c1, 2), Duration::from_secs(30))
            .unwrap();
        assert_eq!(appended.version, 2);
    });
    let noop = CommandId(Uuid::from_u128(77));
    paused(&|| {
        log.record_noop_owned(&lease, &c1, noop, Duration::from_secs(30))
            .unwrap()
    });
    // Each stored once, and the fence moved past both: the owner goes on.
    let mut both = decision(&c1, 1);
    both.extend(decision(&c1, 2));
    assert_eq!(log.read_conversation(&c1).unwrap(), both);
    assert_eq!(log.partition_head(2).unwrap(), 3);
    log.append_owned(&lease, &c2, 0, &decision(&c2, 3)).unwrap();
    let report = log.verify().unwrap();
    assert_eq!((report.decisions, report.noops), (3, 1));
}
