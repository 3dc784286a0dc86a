//! Tampering with a JetStream log from outside (the server's own API, as an operator or a
//! stray tool would): a partition stream deleted or made again, the meta bucket deleted, a
//! stream shorter than its high-water mark, a valid record published again (on its own
//! subject, another conversation's, another partition's) and a garbage message. Each is
//! refused with a typed error that names it (a bad record by its stream sequence), nothing is
//! created over it, and salvage copies every other record into a new log.

mod support;

use async_nats::jetstream::{self, stream};
use async_nats::HeaderMap;
use receipt_domain::*;
use receipt_jetstream::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use support::NatsServer;
use uuid::Uuid;

fn user(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

fn group(g: &str) -> ConversationId {
    ConversationId::Group(GroupId::new(g).unwrap())
}

fn options(server: &NatsServer, prefix: &str) -> JetStreamOptions {
    JetStreamOptions::new(server.url.clone())
        .with_prefix(prefix)
        .with_partitions(3)
}

/// A decision of `n` sends in `c`, its event ids derived from `tag`.
fn decision(c: &ConversationId, tag: u128, n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| Event {
            id: EventId(Uuid::from_u128(tag << 16 | i as u128)),
            at_ms: 1_000 + tag as u64,
            body: EventBody::MessageSent {
                conversation: c.clone(),
                message: MessageId(Uuid::from_u128(tag << 16 | i as u128)),
                sender: user("ann"),
                group_ack: GroupAck::NotRequested,
            },
        })
        .collect()
}

/// A log under `prefix` holding four rounds of decisions in twelve groups; every
/// conversation's events.
fn filled(
    server: &NatsServer,
    prefix: &str,
) -> (JetStreamLog, BTreeMap<ConversationId, Vec<Event>>) {
    let log = JetStreamLog::connect(&options(server, prefix)).unwrap();
    let mut all: BTreeMap<ConversationId, Vec<Event>> = BTreeMap::new();
    for round in 0..4u128 {
        for i in 0..12u128 {
            let c = group(&format!("g{i}"));
            let events = decision(&c, round * 100 + i + 1, 1 + (i % 2) as usize);
            let held = all.entry(c.clone()).or_default();
            log.append(&c, held.len() as u64, &events).unwrap();
            held.extend(events);
        }
    }
    (log, all)
}

/// Every conversation's events as a replay of every partition gives them.
fn replayed(log: &JetStreamLog) -> Result<BTreeMap<ConversationId, Vec<Event>>, JetStreamError> {
    let mut all: BTreeMap<ConversationId, Vec<Event>> = BTreeMap::new();
    for p in 0..log.partitions() {
        log.replay_partition(p, 1, |c, e| all.entry(c.clone()).or_default().push(e.event))?;
    }
    Ok(all)
}

/// The server's own API, for the tampering.
struct Raw {
    runtime: tokio::runtime::Runtime,
    js: jetstream::Context,
}

impl Raw {
    fn new(server: &NatsServer) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let js = runtime.block_on(async {
            jetstream::new(async_nats::connect(server.url.as_str()).await.unwrap())
        });
        Self { runtime, js }
    }

    fn stream_exists(&self, name: &str) -> bool {
        self.runtime.block_on(self.js.get_stream(name)).is_ok()
    }

    fn delete_stream(&self, name: &str) {
        assert!(
            self.runtime
                .block_on(self.js.delete_stream(name))
                .unwrap()
                .success
        );
    }

    /// Makes stream `name` again as the log made it (same subjects, same limits).
    fn make_stream(&self, name: &str, subjects: &str) {
        self.runtime
            .block_on(self.js.create_stream(stream::Config {
                name: name.into(),
                subjects: vec![subjects.into()],
                deny_delete: true,
                deny_purge: true,
                allow_direct: true,
                ..Default::default()
            }))
            .unwrap();
    }

    /// Message `sequence` of stream `name`: its subject, its `Receipts-*` headers, its payload.
    fn message(&self, name: &str, sequence: u64) -> (String, HeaderMap, bytes::Bytes) {
        self.runtime.block_on(async {
            let s = self.js.get_stream(name).await.unwrap();
            let m = s.get_raw_message(sequence).await.unwrap();
            let mut headers = HeaderMap::new();
            for h in [
                "Receipts-Position",
                "Receipts-Version",
                "Receipts-First-Event",
            ] {
                if let Some(v) = m.headers.get(h) {
                    headers.insert(h, v.as_str());
                }
            }
            (m.subject.to_string(), headers, m.payload)
        })
    }

    /// Publishes a message and returns its stream sequence.
    fn publish(&self, subject: &str, headers: HeaderMap, payload: bytes::Bytes) -> u64 {
        self.runtime.block_on(async {
            self.js
                .publish_with_headers(subject.to_string(), headers, payload)
                .await
                .unwrap()
                .await
                .unwrap()
                .sequence
        })
    }

    fn put_meta(&self, prefix: &str, key: &str, value: &str) {
        self.runtime.block_on(async {
            let kv = self
                .js
                .get_key_value(format!("{prefix}-meta"))
                .await
                .unwrap();
            kv.put(key, value.to_string().into()).await.unwrap();
        });
    }

    fn delete_bucket(&self, bucket: &str) {
        self.runtime
            .block_on(self.js.delete_key_value(bucket))
            .unwrap();
    }
}

/// The partition holding most messages, and how many.
fn busiest(log: &JetStreamLog) -> (u32, u64) {
    (0..log.partitions())
        .map(|p| (p, log.partition_head(p).unwrap()))
        .max_by_key(|&(_, head)| head)
        .unwrap()
}

#[test]
fn a_deleted_partition_stream_is_refused_and_never_made_again() {
    let server = NatsServer::start();
    let raw = Raw::new(&server);
    let (log, _) = filled(&server, "del");
    let (p, _) = busiest(&log);
    drop(log);
    let mut deleted = Vec::new();
    for q in [p, (p + 1) % 3] {
        let name = format!("del-p{q}");
        raw.delete_stream(&name);
        deleted.push(q);
        let first = *deleted.iter().min().unwrap();
        for attempt in [
            JetStreamLog::connect(&options(&server, "del")),
            JetStreamLog::open_existing(&options(&server, "del")),
        ] {
            match attempt {
                Err(JetStreamError::StreamMissing { partition, stream }) => {
                    assert_eq!((partition, stream), (first, format!("del-p{first}")))
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(!raw.stream_exists(&name), "the log made {name} again");
    }
}

#[test]
fn a_stream_made_again_by_hand_is_not_taken_for_the_partition() {
    let server = NatsServer::start();
    let raw = Raw::new(&server);
    let (log, _) = filled(&server, "again");
    let (p, _) = busiest(&log);
    drop(log);
    raw.delete_stream(&format!("again-p{p}"));
    raw.make_stream(&format!("again-p{p}"), &format!("again.p{p}.*"));
    match JetStreamLog::connect(&options(&server, "again")) {
        Err(e @ JetStreamError::StreamReplaced { .. }) => {
            assert_eq!(e.kind(), "StreamReplaced");
            assert!(e.to_string().contains(&format!("again-p{p}")), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // Its record in the meta bucket changed to match is refused the same way: a record that is
    // not the stream's creation, whatever it says.
    raw.put_meta("again", &format!("p{p}.created"), "1");
    assert!(matches!(
        JetStreamLog::open_existing(&options(&server, "again")),
        Err(JetStreamError::StreamReplaced { .. })
    ));
}

#[test]
fn a_deleted_meta_bucket_is_refused_while_the_streams_hold_messages() {
    let server = NatsServer::start();
    let raw = Raw::new(&server);
    let (log, _) = filled(&server, "meta");
    drop(log);
    raw.delete_bucket("meta-meta");
    // Every time, by the openings that may create and by those that may not: the first
    // refusal leaves no bucket behind that a later opening would take for the log's.
    for attempt in 0..3 {
        let opened = if attempt == 1 {
            JetStreamLog::open_existing(&options(&server, "meta"))
        } else {
            JetStreamLog::connect(&options(&server, "meta"))
        };
        match opened {
            Err(JetStreamError::MetaMissing {
                prefix, messages, ..
            }) => {
                assert_eq!(prefix, "meta");
                assert!(messages > 0);
            }
            other => panic!("attempt {attempt}: {other:?}"),
        }
    }
}

#[test]
fn a_stream_that_ends_before_its_high_water_mark_is_refused() {
    let server = NatsServer::start();
    let raw = Raw::new(&server);
    let (log, all) = filled(&server, "mark");
    let (p, head) = busiest(&log);
    // Taking the partition raises its mark to the stream's end; releasing it keeps it.
    let lease = log
        .acquire(p, "owner-a", std::time::Duration::from_secs(10))
        .unwrap();
    assert_eq!(log.high_water_mark(p).unwrap(), head);
    log.release(&lease).unwrap();
    assert_eq!(replayed(&log).unwrap(), all);
    // The stream losing its last three acknowledged messages reads as the mark being three
    // past it (a stream cannot be shortened through the API: deletes and purges are denied).
    raw.put_meta("mark", &format!("p{p}.head"), &(head + 3).to_string());
    let shortened = |r: Result<_, JetStreamError>| match r {
        Err(JetStreamError::PartitionShortened {
            partition,
            head: h,
            acknowledged,
        }) => assert_eq!((partition, h, acknowledged), (p, head, head + 3)),
        other => panic!("{other:?}"),
    };
    shortened(log.verify().map(|_| ()));
    shortened(replayed(&log).map(|_| ()));
    shortened(
        log.acquire(p, "owner-b", std::time::Duration::from_secs(10))
            .map(|_| ()),
    );
}

/// How a message is put where it does not belong.
#[derive(Debug, Clone, Copy)]
enum Misplaced {
    /// A valid record published again on its own subject.
    Repeated,
    /// A valid record on another conversation's subject in the same partition.
    OtherConversation,
    /// A valid record on its conversation's subject token under another partition.
    OtherPartition,
    /// Bytes that are no record, on a conversation's subject.
    Garbage,
}

/// Puts a message where it does not belong; returns its partition and stream sequence.
fn misplace(raw: &Raw, log: &JetStreamLog, prefix: &str, how: Misplaced) -> (u32, u64) {
    let (p, _) = busiest(log);
    let (subject, headers, payload) = raw.message(&format!("{prefix}-p{p}"), 2);
    let token = subject.rsplit('.').next().unwrap().to_string();
    let (q, subject) = match how {
        Misplaced::Repeated => (p, subject),
        Misplaced::OtherConversation => {
            let (other, _, _) = raw.message(&format!("{prefix}-p{p}"), 1);
            assert_ne!(other, subject, "two messages of one conversation");
            (p, other)
        }
        Misplaced::OtherPartition => {
            let q = (p + 1) % log.partitions();
            (q, format!("{prefix}.p{q}.{token}"))
        }
        Misplaced::Garbage => (p, subject),
    };
    let payload = match how {
        Misplaced::Garbage => bytes::Bytes::from_static(b"{\"not\":\"a record\"}"),
        _ => payload,
    };
    (q, raw.publish(&subject, headers, payload))
}

#[test]
fn a_record_where_it_does_not_belong_is_named_by_its_sequence_and_salvage_keeps_the_rest() {
    let server = NatsServer::start();
    let raw = Raw::new(&server);
    for (i, how) in [
        Misplaced::Repeated,
        Misplaced::OtherConversation,
        Misplaced::OtherPartition,
        Misplaced::Garbage,
    ]
    .into_iter()
    .enumerate()
    {
        let prefix = format!("bad{i}");
        let (log, all) = filled(&server, &prefix);
        let (p, sequence) = misplace(&raw, &log, &prefix, how);
        let bad = |r: Result<(), JetStreamError>, what: &str| match r {
            Err(e @ JetStreamError::BadRecord { .. }) => {
                let JetStreamError::BadRecord {
                    partition,
                    sequence: s,
                    ..
                } = &e
                else {
                    unreachable!()
                };
                assert_eq!((*partition, *s), (p, sequence), "{how:?} {what}: {e}");
                assert!(
                    e.to_string()
                        .contains(&format!("stream sequence {sequence}")),
                    "{e}"
                );
            }
            other => panic!("{how:?} {what}: {other:?}"),
        };
        bad(log.verify().map(|_| ()), "verify");
        bad(replayed(&log).map(|_| ()), "replay");
        let log = Arc::new(log);
        bad(
            JetStreamEngine::open(
                log.clone(),
                &Ownership::all("engine"),
                receipt_engine::EngineOptions::default(),
            )
            .map(|_| ()),
            "engine open",
        );
        // Salvage: everything but the misplaced message, each conversation whole.
        let target = JetStreamLog::connect(&options(&server, &format!("{prefix}-saved"))).unwrap();
        let report = log.salvage_into(&target).unwrap();
        let dropped: Vec<(u32, u64)> = report
            .dropped
            .iter()
            .map(|d| (d.partition, d.sequence))
            .collect();
        assert_eq!(dropped, vec![(p, sequence)], "{how:?}: {report:?}");
        assert_eq!(replayed(&target).unwrap(), all, "{how:?}");
        let events: u64 = all.values().map(|e| e.len() as u64).sum();
        assert_eq!((report.decisions, report.events), (48, events));
        target.verify().unwrap();
        // The damaged log is only read: the bad record is still there.
        bad(log.verify().map(|_| ()), "verify after salvage");
        // A log that is not empty is no salvage target.
        assert!(matches!(
            log.salvage_into(&target),
            Err(JetStreamError::SalvageTarget { .. })
        ));
    }
}

#[test]
fn a_no_op_record_published_again_changes_no_answer_and_verify_names_it() {
    let server = NatsServer::start();
    let raw = Raw::new(&server);
    let (log, all) = filled(&server, "noop");
    let c = group("g0");
    let p = log.partition(&c);
    let lease = log
        .acquire(p, "owner", std::time::Duration::from_secs(10))
        .unwrap();
    let command = CommandId(Uuid::from_u128(77));
    log.record_noop_owned(&lease, &c, command, std::time::Duration::ZERO)
        .unwrap();
    log.release(&lease).unwrap();
    let head = log.partition_head(p).unwrap();
    assert_eq!(log.verify().unwrap().noops, 1);
    let (subject, headers, payload) = raw.message(&format!("noop-p{p}"), head);
    assert!(subject.ends_with(".noop"), "{subject}");
    let sequence = raw.publish(&subject, headers, payload);
    match log.verify() {
        Err(e @ JetStreamError::BadRecord { .. }) => {
            assert!(
                e.to_string()
                    .contains(&format!("partition {p}, stream sequence {sequence}")),
                "{e}"
            );
            assert!(e.to_string().contains("no-op record of command"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // A replay records the command once: the events are the same, and the engine opens.
    assert_eq!(replayed(&log).unwrap(), all);
}
