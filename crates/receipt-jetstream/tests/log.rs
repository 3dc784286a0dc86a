//! The JetStream log against a real server (tests/support starts one): what the sled log
//! guarantees holds here too. Appends are all or nothing, refused when stale, recognised when
//! retried (by this process or another); reads and replays give every event once, in order;
//! partitions are fixed; deletes are denied; checkpoints round-trip.

mod support;

use receipt_domain::*;
use receipt_jetstream::*;
use support::NatsServer;
use uuid::Uuid;

fn user(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

fn direct(a: &str, b: &str) -> ConversationId {
    ConversationId::direct(user(a), user(b)).unwrap()
}

fn group(g: &str) -> ConversationId {
    ConversationId::Group(GroupId::new(g).unwrap())
}

/// A decision of `n` sends in `c` by `sender`, its event ids derived from `tag`.
fn decision(c: &ConversationId, sender: &str, tag: u128, n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| Event {
            id: EventId(Uuid::from_u128(tag << 16 | i as u128)),
            at_ms: 1_000 + tag as u64,
            body: EventBody::MessageSent {
                conversation: c.clone(),
                message: MessageId(Uuid::from_u128(tag << 16 | i as u128)),
                sender: user(sender),
                group_ack: GroupAck::NotRequested,
            },
        })
        .collect()
}

fn log(server: &NatsServer, partitions: u32) -> JetStreamLog {
    JetStreamLog::connect(&JetStreamOptions::new(server.url.clone()).with_partitions(partitions))
        .unwrap()
}

#[test]
fn appends_read_back_in_order_whatever_the_ids() {
    let server = NatsServer::start();
    let log = log(&server, 4);
    // Ids with every character a subject gives meaning to, and then some.
    let odd = [
        direct("ann", "bob"),
        group("team"),
        group("a.b*c>d e"),
        direct("ünï.*", ">x y"),
    ];
    let mut expected: Vec<Vec<Event>> = vec![Vec::new(); odd.len()];
    let mut tag = 1;
    for round in 0..3 {
        for (i, c) in odd.iter().enumerate() {
            let sender = if c.is_group() {
                "ann"
            } else {
                match c {
                    ConversationId::Direct { low, .. } => low.as_str(),
                    _ => "ann",
                }
            };
            let events = decision(c, sender, tag, 1 + (round + i) % 3);
            tag += 1;
            let v = expected[i].len() as u64;
            let appended = log.append(c, v, &events).unwrap();
            assert_eq!(appended.version, v + events.len() as u64);
            assert!(!appended.duplicate);
            expected[i].extend(events);
        }
    }
    for (c, want) in odd.iter().zip(&expected) {
        assert_eq!(&log.read_conversation(c).unwrap(), want, "{c}");
        assert_eq!(log.version(c).unwrap(), want.len() as u64);
    }
    // Another process (a new connection, no cache) reads the same.
    let other =
        JetStreamLog::connect(&JetStreamOptions::new(server.url.clone()).with_partitions(4))
            .unwrap();
    for (c, want) in odd.iter().zip(&expected) {
        assert_eq!(&other.read_conversation(c).unwrap(), want);
    }
    assert_eq!(
        log.read_conversation(&direct("cat", "dan")).unwrap(),
        vec![]
    );
}

#[test]
fn a_stale_append_is_refused_and_changes_nothing() {
    let server = NatsServer::start();
    let log = log(&server, 2);
    let c = group("team");
    log.append(&c, 0, &decision(&c, "ann", 1, 2)).unwrap();
    // A second writer decided against version 0 too: refused, typed, nothing stored.
    let stale = decision(&c, "bob", 2, 1);
    let other =
        JetStreamLog::connect(&JetStreamOptions::new(server.url.clone()).with_partitions(2))
            .unwrap();
    match other.append(&c, 0, &stale) {
        Err(JetStreamError::Conflict {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (0, 2)),
        other => panic!("{other:?}"),
    }
    // `other` now caches version 2 (it just read it); the first writer appends the third
    // event. `other`'s append at 2 then passes its own check and is refused by the server's
    // expected-subject-sequence check: the fence a stale owner meets.
    log.append(&c, 2, &decision(&c, "ann", 3, 1)).unwrap();
    match other.append(&c, 2, &decision(&c, "bob", 4, 1)) {
        Err(JetStreamError::Conflict {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (2, 3)),
        other => panic!("{other:?}"),
    }
    let stored = log.read_conversation(&c).unwrap();
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(
        |e| !matches!(&e.body, EventBody::MessageSent { sender, .. } if sender.as_str() == "bob")
    ));
    assert!(matches!(log.append(&c, 3, &[]), Err(JetStreamError::Empty)));
}

#[test]
fn a_retried_append_is_stored_once() {
    let server = NatsServer::start();
    let log = log(&server, 2);
    let c = direct("ann", "bob");
    let events = decision(&c, "ann", 1, 3);
    assert!(!log.append(&c, 0, &events).unwrap().duplicate);
    // The same process retries (its answer was lost): recognised, nothing new.
    let again = log.append(&c, 0, &events).unwrap();
    assert!(again.duplicate);
    assert_eq!(again.version, 3);
    // Another process retries it (the writer crashed before answering): recognised too.
    let other =
        JetStreamLog::connect(&JetStreamOptions::new(server.url.clone()).with_partitions(2))
            .unwrap();
    assert!(other.append(&c, 0, &events).unwrap().duplicate);
    assert_eq!(log.read_conversation(&c).unwrap(), events);
    // Once something else follows, an old decision is a conflict, not a duplicate.
    log.append(&c, 3, &decision(&c, "bob", 2, 1)).unwrap();
    assert!(matches!(
        other.append(&c, 0, &events),
        Err(JetStreamError::Conflict { .. })
    ));
}

#[test]
fn partitions_are_fixed_at_creation_and_replay_gives_every_event_once() {
    let server = NatsServer::start();
    let log = log(&server, 3);
    assert_eq!(log.partitions(), 3);
    match JetStreamLog::connect(&JetStreamOptions::new(server.url.clone()).with_partitions(5)) {
        Err(JetStreamError::PartitionsMismatch { stored, asked }) => {
            assert_eq!((stored, asked), (3, 5))
        }
        other => panic!("{other:?}"),
    }
    let conversations: Vec<ConversationId> = (0..12).map(|i| group(&format!("g{i}"))).collect();
    let mut all = Vec::new();
    for round in 0..4u128 {
        for (i, c) in conversations.iter().enumerate() {
            let events = decision(c, "ann", round * 100 + i as u128 + 1, 1 + i % 2);
            let v = log.version(c).unwrap();
            log.append(c, v, &events).unwrap();
            all.extend(events.into_iter().map(|e| (c.clone(), e)));
        }
    }
    let mut replayed = Vec::new();
    let mut heads = Vec::new();
    for p in 0..log.partitions() {
        let mut last_version = std::collections::HashMap::new();
        let head = log
            .replay_partition(p, 1, |c, pe| {
                assert_eq!(log.partition(c), p, "{c} replayed from another partition");
                let v = last_version.entry(c.clone()).or_insert(0u64);
                assert_eq!(pe.version, *v + 1, "{c}: versions consecutive");
                *v = pe.version;
                replayed.push((c.clone(), pe.event));
            })
            .unwrap();
        heads.push(head);
    }
    // Every event once, each conversation's in its order.
    assert_eq!(replayed.len(), all.len());
    for c in &conversations {
        let want: Vec<&Event> = all.iter().filter(|(x, _)| x == c).map(|(_, e)| e).collect();
        let got: Vec<&Event> = replayed
            .iter()
            .filter(|(x, _)| x == c)
            .map(|(_, e)| e)
            .collect();
        assert_eq!(got, want, "{c}");
    }
    // From a later sequence: exactly the suffix.
    let p = log.partition(&conversations[0]);
    let mut suffix = 0;
    log.replay_partition(p, heads[p as usize], |_, _| suffix += 1)
        .unwrap();
    assert!(suffix >= 1);
    // Deletes are denied: a log is never shortened.
    assert!(log.try_delete(p, 1).is_err());
    assert_eq!(log.partition_head(p).unwrap(), heads[p as usize]);
    // verify reads it all back, from a connection that creates nothing and takes the stored
    // partition count whatever the options say.
    let existing =
        JetStreamLog::open_existing(&JetStreamOptions::new(server.url.clone()).with_partitions(99))
            .unwrap();
    assert_eq!(existing.partitions(), 3);
    let report = existing.verify().unwrap();
    assert_eq!(
        (
            report.partitions,
            report.events,
            report.decisions,
            report.conversations
        ),
        (3, all.len() as u64, 48, 12)
    );
    match JetStreamLog::open_existing(
        &JetStreamOptions::new(server.url.clone()).with_prefix("nothing-here"),
    ) {
        Err(JetStreamError::NoLog { prefix }) => assert_eq!(prefix, "nothing-here"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn checkpoints_round_trip_and_the_partition_function_is_frozen() {
    let server = NatsServer::start();
    let log = log(&server, 8);
    assert_eq!(log.get_checkpoint(b"G").unwrap(), None);
    log.put_checkpoint(b"G", vec![1, 2, 3]).unwrap();
    log.put_checkpoint(b"P\x00\xffodd key", vec![4]).unwrap();
    assert_eq!(log.get_checkpoint(b"G").unwrap(), Some(vec![1, 2, 3]));
    assert_eq!(
        log.get_checkpoint(b"P\x00\xffodd key").unwrap(),
        Some(vec![4])
    );
    // The partition of a conversation is part of the stored format: these values must never
    // change (a change would lose every conversation of a running cluster).
    let frozen: Vec<u32> = [
        direct("ann", "bob"),
        group("team"),
        group("g0"),
        direct("a.b", "c*d"),
    ]
    .iter()
    .map(|c| partition_of(c, 8))
    .collect();
    assert_eq!(frozen, FROZEN_PARTITIONS);
}

/// `partition_of` of the four conversations above among 8 partitions, as first computed.
const FROZEN_PARTITIONS: [u32; 4] = [7, 1, 5, 7];

#[test]
fn many_decisions_go_out_together_and_each_is_answered_as_alone() {
    let server = NatsServer::start();
    let log = log(&server, 4);
    let cs: Vec<ConversationId> = (0..6).map(|i| group(&format!("m{i}"))).collect();
    log.append(&cs[0], 0, &decision(&cs[0], "ann", 1, 1))
        .unwrap();
    let retried = decision(&cs[1], "ann", 2, 2);
    log.append(&cs[1], 0, &retried).unwrap();
    let mut batch: Vec<(ConversationId, u64, Vec<Event>)> = vec![
        (cs[0].clone(), 0, decision(&cs[0], "ann", 3, 1)), // stale: cs[0] is at 1
        (cs[1].clone(), 0, retried.clone()),               // a retry of what cs[1] holds
    ];
    for (i, c) in cs.iter().enumerate().skip(2) {
        batch.push((c.clone(), 0, decision(c, "ann", 10 + i as u128, 1 + i % 2)));
    }
    let answers = log.append_many(&batch).unwrap();
    assert!(matches!(
        answers[0],
        Err(JetStreamError::Conflict {
            expected: 0,
            actual: 1,
            ..
        })
    ));
    assert!(answers[1].as_ref().unwrap().duplicate);
    for (answer, (c, _, events)) in answers.iter().zip(&batch).skip(2) {
        let a = answer.as_ref().unwrap();
        assert_eq!((a.version, a.duplicate), (events.len() as u64, false));
        assert_eq!(&log.read_conversation(c).unwrap(), events);
    }
    assert_eq!(log.read_conversation(&cs[1]).unwrap(), retried);
    assert_eq!(log.version(&cs[0]).unwrap(), 1);
    // A conversation twice in one call is refused before anything is sent.
    let twice = vec![
        (cs[2].clone(), 1, decision(&cs[2], "ann", 30, 1)),
        (cs[2].clone(), 2, decision(&cs[2], "ann", 31, 1)),
    ];
    assert!(matches!(
        log.append_many(&twice),
        Err(JetStreamError::ConversationTwice { .. })
    ));
    assert_eq!(log.version(&cs[2]).unwrap(), 1);
}
