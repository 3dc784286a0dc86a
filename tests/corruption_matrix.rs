//! The corruption matrix: a store of a few thousand events, damaged one way per fresh copy
//! (a single-byte flip at a random offset of every file in turn, or a truncation), must either
//! give exactly the original answers (every event exported, every projection, and `verify`
//! passes) or a typed error, from opening, from reading, or from `verify`. A difference with no
//! error is a silent loss, and the test fails on the first one. Nothing may panic.
//!
//! `MATRIX_FLIPS` sets the number of flips (24 by default, a seeded subset for CI); the
//! truncations all run every time.

mod support;

use receipt_engine::store::verify_store;
use receipt_engine::*;
use receipt_workload::WorkloadConfig;
use std::path::{Path, PathBuf};

struct Original {
    dir: tempfile::TempDir,
    events: Vec<Event>,
    policy: Policy,
}

fn options(policy: &Policy) -> EngineOptions {
    EngineOptions::default()
        .with_policy(policy.clone())
        .with_checkpoint_every(Some(1_000))
}

/// A store of a few thousand events written through the Engine, closed cleanly.
fn original() -> Original {
    let dir = tempfile::tempdir().unwrap();
    let config = WorkloadConfig::sized(3_000, 11);
    let policy = config.policy();
    let events = {
        let engine = Engine::open(dir.path(), options(&policy)).unwrap();
        support::run_workload(&engine, config)
    };
    Original {
        dir,
        events,
        policy,
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[derive(Debug, PartialEq, Eq, Clone, Copy, PartialOrd, Ord)]
enum Outcome {
    /// Identical answers; `verify` passes.
    Harmless,
    /// A typed error when opening.
    RefusedAtOpen,
    /// Opened, but reading the log gave a typed error.
    ErrorOnRead,
    /// Same answers, but `verify` reported the damage (an index or the snapshot).
    FoundByVerify,
}

/// Every file of a directory with its bytes, by path relative to it.
fn contents(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    files(dir)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).unwrap();
            (f.strip_prefix(dir).unwrap().to_path_buf(), bytes)
        })
        .collect()
}

/// Opens a damaged copy the way a user would and classifies what happened. An open refused
/// after sled ran its recovery must have kept the files as they were before it.
fn outcome(store: &Path, original: &Original) -> Result<(Outcome, String), String> {
    let before_open = contents(store);
    let engine = match Engine::open(store, options(&original.policy)) {
        Err(e) => {
            if let EngineError::Store(
                store::StoreError::Lost { kept: Some(k), .. }
                | store::StoreError::Damaged { kept: Some(k), .. },
            ) = &e
            {
                if contents(Path::new(k)) != before_open {
                    return Err(format!(
                        "the kept copy {k} differs from the files before the open"
                    ));
                }
            }
            return Ok((Outcome::RefusedAtOpen, e.to_string()));
        }
        Ok(engine) => engine,
    };
    let mut events = Vec::new();
    if let Err(e) = engine.log().replay(0, |e| events.push(e.event)) {
        return Ok((Outcome::ErrorOnRead, e.to_string()));
    }
    if events != original.events {
        return Err(format!(
            "silent difference: {} events exported, {} originally, no error",
            events.len(),
            original.events.len()
        ));
    }
    // The projections: every partition, badge and conversation list (a damaged checkpoint
    // must be rebuilt from the log, or reported, never believed).
    match support::difference_from_cold_fold(&engine, &original.events) {
        Ok(None) => {}
        Ok(Some(difference)) => {
            return Err(format!(
                "silent difference in the projections: {difference}"
            ))
        }
        Err(e) => return Ok((Outcome::ErrorOnRead, e.to_string())),
    }
    drop(engine);
    match verify_store(store) {
        Ok(_) => Ok((Outcome::Harmless, String::new())),
        Err(e) => Ok((Outcome::FoundByVerify, e.to_string())),
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: a seeded, reproducible choice of offsets.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Every other case removes the clean-close marker, as a crash would: those opens copy the
/// files first (and a refused one must keep a byte-identical copy); the others open without.
fn as_after_a_crash(store: &Path, case: usize) {
    if case % 2 == 1 {
        let _ = std::fs::remove_file(store.join(store::CLEAN_CLOSE_FILE));
    }
}

fn run_case(
    original: &Original,
    name: &str,
    damage: impl FnOnce(&Path),
    tally: &mut std::collections::BTreeMap<Outcome, u32>,
) {
    let scratch = tempfile::tempdir().unwrap();
    let store = scratch.path().join("store");
    support::copy_dir(original.dir.path(), &store);
    damage(&store);
    match outcome(&store, original) {
        Ok((o, why)) => {
            *tally.entry(o).or_default() += 1;
            if std::env::var_os("MATRIX_VERBOSE").is_some() {
                eprintln!("{name}: {o:?} {why}");
            }
        }
        Err(silent) => panic!("{name}: {silent}"),
    }
}

#[test]
fn damage_is_reported_or_harmless_never_silent() {
    let original = original();
    assert!(original.events.len() > 2_000, "a few thousand events");
    let all_files = files(original.dir.path());
    let flips: usize = std::env::var("MATRIX_FLIPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    let mut tally = std::collections::BTreeMap::new();
    let mut rng = Rng(0x00C0_FFEE);
    for i in 0..flips {
        let file = &all_files[i % all_files.len()];
        let relative = file
            .strip_prefix(original.dir.path())
            .unwrap()
            .to_path_buf();
        let len = std::fs::metadata(file).unwrap().len();
        if len == 0 {
            continue;
        }
        let offset = rng.next() % len;
        let mask = (rng.next() % 255 + 1) as u8;
        let name = format!("flip {} byte {offset} ^ {mask:#04x}", relative.display());
        run_case(
            &original,
            &name,
            |store| {
                let path = store.join(&relative);
                let mut bytes = std::fs::read(&path).unwrap();
                bytes[offset as usize] ^= mask;
                std::fs::write(&path, bytes).unwrap();
                as_after_a_crash(store, i);
            },
            &mut tally,
        );
    }
    let db_len = std::fs::metadata(original.dir.path().join("db"))
        .unwrap()
        .len();
    let mut truncations: Vec<(&str, u64)> = [
        0,
        1,
        20,
        4_096,
        100_000,
        524_288,
        1_000_000,
        1_572_863,
        db_len / 2,
        db_len - 4_096,
        db_len - 1,
    ]
    .into_iter()
    .filter(|&at| at < db_len)
    .map(|at| ("db", at))
    .collect();
    truncations.extend([(LEDGER, 0), (LEDGER, 47), (LEDGER, 95), ("conf", 0)]);
    assert!(truncations.len() >= 10);
    for (i, (file, at)) in truncations.into_iter().enumerate() {
        run_case(
            &original,
            &format!("truncate {file} to {at}"),
            |store| {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(store.join(file))
                    .unwrap();
                f.set_len(at).unwrap();
                as_after_a_crash(store, i);
            },
            &mut tally,
        );
    }
    eprintln!(
        "corruption matrix over {} events, {} files, {flips} flips + truncations: {tally:?}, silent: 0",
        original.events.len(),
        all_files.len()
    );
}

const LEDGER: &str = receipt_engine::store::LEDGER_FILE;
