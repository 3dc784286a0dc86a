//! The JetStream log against a reference model (a list of decisions per conversation) over
//! random sequences from two writers (two connections, each with its own cache): appends at the
//! right version, stale ones, ones from the future, retries of earlier decisions, several at
//! once, reads; at the end every partition's replay. Each case runs under its own prefix on one
//! server this test starts. `PROPTEST_CASES` sets the number of cases (default 64).

mod support;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use receipt_domain::*;
use receipt_jetstream::*;
use std::collections::BTreeMap;
use uuid::Uuid;

const CONVERSATIONS: usize = 5;

#[derive(Debug, Clone)]
enum Step {
    /// Writer, conversation, version offset (0: right; 1: one behind; 2: one ahead), events.
    Append(usize, usize, u8, usize),
    /// Writer, which accepted decision to send again at its original version.
    Retry(usize, usize),
    /// Writer, a set of conversations (distinct) each getting one decision at its version.
    Many(usize, Vec<usize>),
    /// Writer, conversation.
    Read(usize, usize),
}

fn step() -> impl Strategy<Value = Step> {
    let w = || 0..2usize;
    let c = || 0..CONVERSATIONS;
    prop_oneof![
        6 => (w(), c(), prop_oneof![Just(0u8), Just(0), Just(0), Just(1), Just(2)], 1..4usize)
            .prop_map(|(w, c, o, n)| Step::Append(w, c, o, n)),
        2 => (w(), any::<usize>()).prop_map(|(w, i)| Step::Retry(w, i)),
        2 => (w(), proptest::sample::subsequence((0..CONVERSATIONS).collect::<Vec<_>>(), 1..=CONVERSATIONS))
            .prop_map(|(w, cs)| Step::Many(w, cs)),
        2 => (w(), c()).prop_map(|(w, c)| Step::Read(w, c)),
    ]
}

fn conversation(i: usize) -> ConversationId {
    ConversationId::Group(GroupId::new(format!("g.{i}*")).unwrap())
}

fn decision(c: &ConversationId, tag: &mut u128, n: usize) -> Vec<Event> {
    let ConversationId::Group(g) = c else {
        unreachable!("groups only")
    };
    (0..n)
        .map(|_| {
            *tag += 1;
            Event {
                id: EventId(Uuid::from_u128(*tag)),
                at_ms: 1_000,
                body: EventBody::MemberJoined {
                    group: g.clone(),
                    user: UserId::new(format!("u{tag}")).unwrap(),
                    role: Role::Member,
                },
            }
        })
        .collect()
}

#[derive(Default)]
struct Model {
    /// Each conversation's decisions, in order.
    decisions: BTreeMap<usize, Vec<Vec<Event>>>,
}

impl Model {
    fn version(&self, c: usize) -> u64 {
        self.decisions
            .get(&c)
            .map_or(0, |d| d.iter().map(Vec::len).sum::<usize>() as u64)
    }

    fn events(&self, c: usize) -> Vec<Event> {
        self.decisions.get(&c).map_or(Vec::new(), |d| d.concat())
    }

    /// What an append of `events` at `expected` must answer, and the model after it.
    fn append(
        &mut self,
        c: usize,
        expected: u64,
        events: &[Event],
    ) -> Result<(u64, bool), (u64, u64)> {
        let version = self.version(c);
        let list = self.decisions.entry(c).or_default();
        if expected == version {
            list.push(events.to_vec());
            return Ok((version + events.len() as u64, false));
        }
        // A retry of the conversation's last decision is recognised; anything else conflicts.
        if list.last().map(Vec::as_slice) == Some(events)
            && expected + events.len() as u64 == version
        {
            return Ok((version, true));
        }
        Err((expected, version))
    }
}

fn check(
    got: Result<Appended, JetStreamError>,
    want: Result<(u64, bool), (u64, u64)>,
) -> Result<(), TestCaseError> {
    match (got, want) {
        (Ok(a), Ok((version, duplicate))) => {
            prop_assert_eq!((a.version, a.duplicate), (version, duplicate));
        }
        (
            Err(JetStreamError::Conflict {
                expected, actual, ..
            }),
            Err((e, v)),
        ) => {
            prop_assert_eq!((expected, actual), (e, v));
        }
        (got, want) => prop_assert!(false, "log {:?}, model {:?}", got, want),
    }
    Ok(())
}

#[test]
fn the_log_matches_the_model_over_random_appends_retries_and_reads() {
    let server = support::NatsServer::start();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let mut runner = TestRunner::new(Config::with_cases(cases));
    // Each case (and each shrinking step) gets fresh streams under a prefix of its own.
    let cases_run = std::sync::atomic::AtomicU32::new(0);
    runner
        .run(&proptest::collection::vec(step(), 1..40), |steps| {
            let case = cases_run.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            let options = JetStreamOptions::new(server.url.clone())
                .with_partitions(3)
                .with_prefix(format!("case{case}"));
            let writers = [
                JetStreamLog::connect(&options).unwrap(),
                JetStreamLog::connect(&options).unwrap(),
            ];
            let mut model = Model::default();
            let mut accepted: Vec<(usize, u64, Vec<Event>)> = Vec::new();
            let mut tag = u128::from(case) << 64;
            for step in steps {
                match step {
                    Step::Append(w, c, offset, n) => {
                        let version = model.version(c);
                        let expected = match offset {
                            0 => version,
                            1 => version.saturating_sub(1),
                            _ => version + 1,
                        };
                        let events = decision(&conversation(c), &mut tag, n);
                        let want = model.append(c, expected, &events);
                        if want.is_ok() {
                            accepted.push((c, expected, events.clone()));
                        }
                        check(writers[w].append(&conversation(c), expected, &events), want)?;
                    }
                    Step::Retry(w, i) if !accepted.is_empty() => {
                        let (c, expected, events) = accepted[i % accepted.len()].clone();
                        let want = model.append(c, expected, &events);
                        check(writers[w].append(&conversation(c), expected, &events), want)?;
                    }
                    Step::Retry(..) => {}
                    Step::Many(w, cs) => {
                        let batch: Vec<(ConversationId, u64, Vec<Event>)> = cs
                            .iter()
                            .map(|&c| {
                                (
                                    conversation(c),
                                    model.version(c),
                                    decision(&conversation(c), &mut tag, 1),
                                )
                            })
                            .collect();
                        let answers = writers[w].append_many(&batch).unwrap();
                        for (&c, ((_, expected, events), got)) in
                            cs.iter().zip(batch.iter().zip(answers))
                        {
                            let want = model.append(c, *expected, events);
                            accepted.push((c, *expected, events.clone()));
                            check(got, want)?;
                        }
                    }
                    Step::Read(w, c) => {
                        prop_assert_eq!(
                            writers[w].read_conversation(&conversation(c)).unwrap(),
                            model.events(c)
                        );
                    }
                }
            }
            // Every partition's replay: each conversation's events once, in order.
            let mut replayed: BTreeMap<ConversationId, Vec<Event>> = BTreeMap::new();
            for p in 0..writers[0].partitions() {
                writers[0]
                    .replay_partition(p, 1, |c, e| {
                        replayed.entry(c.clone()).or_default().push(e.event)
                    })
                    .unwrap();
            }
            for c in 0..CONVERSATIONS {
                let want = model.events(c);
                let got = replayed.remove(&conversation(c)).unwrap_or_default();
                prop_assert_eq!(got, want, "replay of conversation {}", c);
            }
            prop_assert!(replayed.is_empty());
            Ok(())
        })
        .unwrap();
}
