//! State-machine property test of the sled log against a plain model: appends (exact, stale and
//! future expected versions, retried and partially retried), reads, snapshots and restarts.

mod support;

use proptest::prelude::*;
use receipt_domain::*;
use receipt_store::*;
use std::collections::BTreeMap;
use support::*;

#[derive(Debug, Clone)]
enum Op {
    /// Append `n` new events to stream `stream` at its version plus `skew` (0 = correct).
    Append {
        stream: usize,
        skew: i8,
        n: usize,
    },
    /// Re-append a past successful request (`pick` chooses which), optionally with one id changed.
    Retry {
        pick: usize,
        tamper: bool,
    },
    ReadStream {
        stream: usize,
        from: u64,
    },
    ReadFrom {
        from: u64,
    },
    Snapshot,
    Restart,
}

fn streams() -> Vec<ConversationId> {
    vec![
        chat("ann", "bob"),
        chat("ann", "cat"),
        ConversationId::Group(group("g")),
    ]
}

fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3usize, prop_oneof![4 => Just(0i8), 1 => Just(-1), 1 => Just(1)], 1..4usize)
            .prop_map(|(stream, skew, n)| Op::Append { stream, skew, n }),
        2 => (any::<usize>(), prop::bool::weighted(0.3)).prop_map(|(pick, tamper)| Op::Retry { pick, tamper }),
        1 => (0..3usize, 0..8u64).prop_map(|(stream, from)| Op::ReadStream { stream, from }),
        1 => (0..20u64).prop_map(|from| Op::ReadFrom { from }),
        1 => Just(Op::Snapshot),
        1 => Just(Op::Restart),
    ]
}

/// The model: the global sequence of event ids, each stream's positions, past requests.
#[derive(Default)]
struct Model {
    global: Vec<Event>,
    streams: BTreeMap<ConversationId, Vec<u64>>,
    done: Vec<(AppendRequest, u64)>,
}

impl Model {
    fn version(&self, c: &ConversationId) -> u64 {
        self.streams.get(c).map_or(0, |v| v.len() as u64)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(100)))]

    #[test]
    fn sled_log_matches_model(ops in prop::collection::vec(any_op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let mut log = SledLog::open_dir(dir.path(), Durability::EveryAppend).unwrap();
        let mut model = Model::default();
        let mut next_id = 1u128;
        for op in ops {
            match op {
                Op::Append { stream, skew, n } => {
                    let c = &streams()[stream];
                    let v = model.version(c);
                    let expected = (v as i64 + i64::from(skew)).max(0) as u64;
                    let r = request(c, expected, &(next_id..next_id + n as u128).collect::<Vec<_>>());
                    next_id += n as u128;
                    let got = log.append(r.clone());
                    if expected == v {
                        let a = got.unwrap();
                        prop_assert_eq!((a.first_position, a.version, a.duplicate), (model.global.len() as u64, v + n as u64, false));
                        let first = model.global.len() as u64;
                        model.streams.entry(c.clone()).or_default().extend(first..first + n as u64);
                        model.global.extend(r.events.iter().cloned());
                        model.done.push((r, first));
                    } else {
                        let is_conflict = matches!(got, Err(StoreError::Conflict { .. }));
                        prop_assert!(is_conflict, "{:?}", got);
                    }
                }
                Op::Retry { pick, tamper } => {
                    if model.done.is_empty() { continue; }
                    let (mut r, first) = model.done[pick % model.done.len()].clone();
                    if tamper {
                        let last = r.events.len() - 1;
                        r.events[last] = sent(&r.conversation, next_id);
                        next_id += 1;
                    }
                    let got = log.append(r.clone());
                    if !tamper {
                        let a = got.unwrap();
                        prop_assert_eq!((a.first_position, a.duplicate), (first, true));
                    } else if r.events.len() > 1 {
                        let mismatch = matches!(got, Err(StoreError::DuplicateMismatch { .. }));
                        prop_assert!(mismatch, "{:?}", got);
                    } else {
                        let conflict = matches!(got, Err(StoreError::Conflict { .. }));
                        prop_assert!(conflict, "{:?}", got);
                    }
                }
                Op::ReadStream { stream, from } => {
                    let c = &streams()[stream];
                    let got: Vec<(u64, u64)> = log.read_stream(c, from, usize::MAX).unwrap()
                        .iter().map(|e| (e.version, e.position)).collect();
                    let want: Vec<(u64, u64)> = model.streams.get(c).into_iter().flatten().enumerate()
                        .map(|(i, &p)| (i as u64 + 1, p)).filter(|(v, _)| *v >= from.max(1)).collect();
                    prop_assert_eq!(got, want);
                }
                Op::ReadFrom { from } => {
                    let got: Vec<Event> = log.read_from(from, usize::MAX).unwrap().into_iter().map(|e| e.event).collect();
                    let want: Vec<Event> = model.global.iter().skip(from as usize).cloned().collect();
                    prop_assert_eq!(got, want);
                }
                Op::Snapshot => {
                    log.save_snapshot(log.head(), &State::from_events(&model.global)).unwrap();
                }
                Op::Restart => {
                    drop(log);
                    log = SledLog::open_dir(dir.path(), Durability::EveryAppend).unwrap();
                }
            }
            prop_assert_eq!(log.head(), model.global.len() as u64);
        }
        // Snapshot + tail == full replay == the model's fold.
        let incremental = State::from_events(&model.global);
        prop_assert_eq!(&log.recover().unwrap().1, &incremental);
        prop_assert_eq!(&log.rebuild().unwrap().1, &incremental);
    }
}
