//! The tamper matrix of the checkpoints, beside the corruption matrix: a store whose
//! checkpoint covers its whole log (so every answer of a fresh open comes from checkpoint
//! entries), changed one way per fresh copy through sled itself, as someone with access to the
//! files would: an entry of each kind (marker, partition, header, summary, roster) deleted,
//! replaced by another entry of the same kind (a valid record under the wrong key), or replaced
//! by its own value from an earlier checkpoint (stale). Every answer must equal a cold fold of
//! the log (the entry was rebuilt) or be a typed error; a difference with no error fails the
//! test. The log's own tampering (the ledger deleted or another store's) is
//! `crates/receipt-store/tests/ledger_binding.rs`.
//!
//! `TAMPER_TRIALS` sets the trials per kind and way (8 by default, a seeded subset for CI).

mod support;

use receipt_engine::*;
use receipt_workload::WorkloadConfig;
use std::collections::BTreeMap;
use std::path::Path;

/// Where the store keeps checkpoint entries: sled's `snapshots` tree, under this prefix
/// (docs/storage.md, Checkpoints).
const TREE: &str = "snapshots";
const PREFIX: &[u8] = b"\xFFckpt/";

fn trials() -> usize {
    std::env::var("TAMPER_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8)
}

fn options(policy: &Policy) -> EngineOptions {
    EngineOptions::default()
        .with_policy(policy.clone())
        .with_checkpoint_every(None)
}

type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

/// The checkpoint entries of a closed store, by key (without the prefix).
/// sled opened without its background flusher, so that dropping it releases the files at once.
fn open_sled(dir: &Path) -> sled::Db {
    sled::Config::new()
        .path(dir)
        .flush_every_ms(None)
        .open()
        .unwrap()
}

fn entries(dir: &Path) -> Entries {
    let db = open_sled(dir);
    let tree = db.open_tree(TREE).unwrap();
    let out = tree
        .scan_prefix(PREFIX)
        .map(|r| {
            let (k, v) = r.unwrap();
            (k[PREFIX.len()..].to_vec(), v.to_vec())
        })
        .collect();
    drop(tree);
    db.flush().unwrap();
    out
}

/// Applies `puts` (a `None` value deletes) to the checkpoint entries of a closed store.
fn tamper(dir: &Path, puts: &[(Vec<u8>, Option<Vec<u8>>)]) {
    let db = open_sled(dir);
    let tree = db.open_tree(TREE).unwrap();
    for (k, v) in puts {
        let mut key = PREFIX.to_vec();
        key.extend_from_slice(k);
        match v {
            Some(v) => tree.insert(key, v.clone()).unwrap(),
            None => tree.remove(key).unwrap(),
        };
    }
    tree.flush().unwrap();
    db.flush().unwrap();
}

struct Original {
    dir: tempfile::TempDir,
    events: Vec<Event>,
    policy: Policy,
    /// The entries as an earlier checkpoint (at about two thirds of the log) left them.
    earlier: Entries,
}

fn original() -> Original {
    let dir = tempfile::tempdir().unwrap();
    let config = WorkloadConfig::sized(3_000, 23);
    let policy = config.policy();
    let commands: Vec<_> = receipt_workload::Workload::new(config).collect();
    let split = commands.len() * 2 / 3;
    let run = |engine: &Engine, part: &[receipt_domain::Command]| {
        for c in part {
            match engine.execute_command(c.clone()) {
                Ok(_) | Err(EngineError::Rejected(_)) => {}
                Err(e) => panic!("building the store: {e}"),
            }
        }
        engine.checkpoint().unwrap();
    };
    {
        let engine = Engine::open(dir.path(), options(&policy)).unwrap();
        run(&engine, &commands[..split]);
    }
    let earlier = entries(dir.path());
    let events = {
        let engine = Engine::open(dir.path(), options(&policy)).unwrap();
        run(&engine, &commands[split..]);
        let mut events = Vec::new();
        engine.log().replay(0, |e| events.push(e.event)).unwrap();
        events
    };
    Original {
        dir,
        events,
        policy,
        earlier,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Every answer equals a cold fold (the entry was rebuilt, or harmless).
    Identical,
    /// A typed error when opening or answering.
    TypedError,
}

fn outcome(store: &Path, original: &Original) -> Result<Outcome, String> {
    // sled releases its lock on the files a moment after the tampering handle is dropped.
    let mut opened = Engine::open(store, options(&original.policy));
    for _ in 0..200 {
        match &opened {
            Err(EngineError::Store(store::StoreError::Locked(_))) => {
                std::thread::sleep(std::time::Duration::from_millis(25));
                opened = Engine::open(store, options(&original.policy));
            }
            _ => break,
        }
    }
    let engine = match opened {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("refused at open: {e}");
            return Ok(Outcome::TypedError);
        }
    };
    match support::difference_from_cold_fold(&engine, &original.events) {
        Ok(None) => Ok(Outcome::Identical),
        Ok(Some(difference)) => Err(format!(
            "silent difference: {difference} ({:?})",
            engine.cache_stats()
        )),
        Err(e) => {
            eprintln!("refused answering: {e}");
            Ok(Outcome::TypedError)
        }
    }
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        // xorshift64*: a seeded, reproducible choice of entries.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

fn copy_of(original: &Original) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    support::copy_dir(original.dir.path(), copy.path());
    copy
}

#[test]
fn deleted_swapped_and_stale_checkpoint_entries_are_rebuilt_or_refused_never_believed() {
    let original = original();
    let current = entries(original.dir.path());
    let mut rng = Rng(0x7A3B_E11E);
    let mut tally: BTreeMap<(char, &str, Outcome), usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for kind in ['G', 'P', 'H', 'U', 'R'] {
        let keys: Vec<&Vec<u8>> = current.keys().filter(|k| k[0] == kind as u8).collect();
        assert!(!keys.is_empty(), "the store has {kind} entries");
        // Stale values can only be restored where the earlier checkpoint held another one.
        let changed: Vec<&Vec<u8>> = keys
            .iter()
            .copied()
            .filter(|k| original.earlier.get(*k).is_some_and(|v| v != &current[*k]))
            .collect();
        for way in ["deleted", "swapped", "stale"] {
            for trial in 0..trials() {
                let pool = if way == "stale" { &changed } else { &keys };
                if pool.is_empty() {
                    continue;
                }
                let key = pool[rng.below(pool.len())].clone();
                let value = match way {
                    "deleted" => None,
                    "swapped" => {
                        // Another entry of the kind, never the key itself (a kind with one
                        // entry, the marker, has nothing to swap with).
                        let others: Vec<&Vec<u8>> =
                            keys.iter().copied().filter(|k| **k != key).collect();
                        if others.is_empty() {
                            continue;
                        }
                        Some(current[others[rng.below(others.len())]].clone())
                    }
                    _ => Some(original.earlier[&key].clone()),
                };
                let copy = copy_of(&original);
                tamper(copy.path(), &[(key.clone(), value)]);
                match outcome(copy.path(), &original) {
                    Ok(o) => *tally.entry((kind, way, o)).or_default() += 1,
                    Err(e) => {
                        failures.push(format!("{kind} {way} (trial {trial}, key {key:?}): {e}"))
                    }
                }
            }
        }
    }
    eprintln!("tamper matrix (kind, way, outcome: trials): {tally:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let total: usize = tally.values().sum();
    // Every kind and way ran, but swapping the one marker with another marker (there is one).
    assert_eq!(total, trials() * (5 * 3 - 1), "{tally:?}");
}
