//! Checkpoints are caches, never the truth: an entry that is damaged, from another layout, or
//! not what it claims is detected when the engine opens or loads it, rebuilt from the log, and
//! rewritten at the next checkpoint. Every answer stays that of a cold fold of the log, and
//! `verify` reports the bad entry while it is there.

mod support;

use receipt_engine::store::{verify_store, Backend, SledBackend, StoreError};
use receipt_engine::*;
use receipt_workload::WorkloadConfig;
use std::path::Path;

/// A store of ~2,000 events written through the engine and closed cleanly (so its checkpoint
/// is at the head); returns its events.
fn store(dir: &Path) -> Vec<Event> {
    let config = WorkloadConfig::sized(2_000, 5);
    let options = EngineOptions::default()
        .with_policy(config.policy())
        .with_checkpoint_every(Some(300))
        // The test is about checkpoints, not durability: no sync per command.
        .with_durability(Durability::Buffered);
    let engine = Engine::open(dir, options).unwrap();
    support::run_workload(&engine, config)
}

/// Rewrites checkpoint entries whose key starts with `tag` (all of them, or just the first
/// `limit`) with `damage` applied to their bytes, through the storage seam.
fn damage_entries(dir: &Path, tag: u8, limit: usize, damage: impl Fn(&mut [u8])) -> usize {
    let backend = SledBackend::open(dir, None).unwrap();
    let entries: Vec<_> = backend
        .checkpoint_range(&[tag], &[tag + 1])
        .take(limit)
        .map(|e| e.unwrap())
        .collect();
    let n = entries.len();
    let damaged = entries
        .into_iter()
        .map(|(k, mut v)| {
            damage(&mut v);
            (k, v)
        })
        .collect();
    backend.checkpoint_write(damaged).unwrap();
    backend.flush().unwrap();
    n
}

fn flip_payload_byte(v: &mut [u8]) {
    let at = 24 + (v.len() - 28) / 2; // inside the payload, before the checksum
    v[at] ^= 0x40;
}

/// An entry of another layout version, with a valid checksum: it must still not be trusted.
fn other_layout(v: &mut [u8]) {
    v[6..8].copy_from_slice(&0u16.to_le_bytes());
    let end = v.len() - 4;
    let crc = crc32fast::hash(&v[..end]);
    v[end..].copy_from_slice(&crc.to_le_bytes());
}

/// Opens the engine after the damage and checks: verify found it first, the engine counts the
/// unusable entries, answers like a cold fold, and leaves a store that verifies again.
fn reopen_and_check(dir: &Path, events: &[Event], what: &str) {
    let verified = verify_store(dir);
    assert!(
        matches!(&verified, Err(StoreError::CheckpointMismatch { .. })),
        "{what}: verify must report the bad entry, got {verified:?}"
    );
    {
        let engine = Engine::open(dir, EngineOptions::default()).unwrap();
        support::assert_equals_cold_fold(&engine, events, what);
        assert!(
            engine.cache_stats().unusable_entries >= 1,
            "{what}: the bad entry was not noticed: {:?}",
            engine.cache_stats()
        );
    } // the close checkpoints what was rebuilt
    let report = verify_store(dir).unwrap_or_else(|e| panic!("{what}: after the rebuild: {e}"));
    assert_eq!(
        report.checkpoint.marker,
        Some(events.len() as u64),
        "{what}"
    );
}

#[test]
fn a_healthy_checkpoint_verifies_and_opens_without_folding() {
    let dir = tempfile::tempdir().unwrap();
    let events = store(dir.path());
    let report = verify_store(dir.path()).unwrap();
    assert_eq!(report.checkpoint.marker, Some(events.len() as u64));
    assert!(report.checkpoint.partitions > 0 && report.checkpoint.summaries > 0);
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    assert_eq!(engine.cache_stats().loads, 0, "opening loaded no partition");
    support::assert_equals_cold_fold(&engine, &events, "healthy");
    assert_eq!(engine.cache_stats().unusable_entries, 0);
    assert_eq!(engine.cache_stats().tail_events_loaded, 0);
}

#[test]
fn damaged_partition_entries_are_rebuilt_from_their_streams() {
    let dir = tempfile::tempdir().unwrap();
    let events = store(dir.path());
    assert!(damage_entries(dir.path(), b'P', 5, flip_payload_byte) == 5);
    reopen_and_check(dir.path(), &events, "flipped partition bytes");
}

#[test]
fn partition_entries_of_another_layout_are_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let events = store(dir.path());
    assert!(damage_entries(dir.path(), b'P', usize::MAX, other_layout) > 5);
    reopen_and_check(dir.path(), &events, "partitions of layout 0");
}

#[test]
fn damaged_summaries_and_headers_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let events = store(dir.path());
    assert!(damage_entries(dir.path(), b'U', usize::MAX, flip_payload_byte) > 5);
    assert!(damage_entries(dir.path(), b'H', 3, other_layout) == 3);
    reopen_and_check(dir.path(), &events, "summaries and headers");
}

#[test]
fn a_damaged_marker_rebuilds_every_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let events = store(dir.path());
    assert_eq!(damage_entries(dir.path(), b'G', 1, flip_marker_position), 1);
    reopen_and_check(dir.path(), &events, "marker");
}

/// The marker claims more events than the log holds (a checkpoint from some other store).
fn flip_marker_position(v: &mut [u8]) {
    v[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    let end = v.len() - 4;
    let crc = crc32fast::hash(&v[..end]);
    v[end..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn a_partition_entry_under_another_conversations_key_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let events = store(dir.path());
    {
        let backend = SledBackend::open(dir.path(), None).unwrap();
        let entries: Vec<_> = backend
            .checkpoint_range(b"P", b"Q")
            .map(|e| e.unwrap())
            .collect();
        // Every partition entry moved one key along: each now claims another conversation.
        let moved: Vec<_> = entries
            .iter()
            .zip(entries.iter().cycle().skip(1))
            .map(|((k, _), (_, v))| (k.clone(), v.clone()))
            .collect();
        backend.checkpoint_write(moved).unwrap();
        backend.flush().unwrap();
    }
    reopen_and_check(dir.path(), &events, "partitions swapped");
}

/// The files sled keeps apart (`blobs/`, for large values) that hold a checkpoint entry, with
/// the offset of the entry's record in each.
fn checkpoint_blobs(dir: &Path) -> Vec<(std::path::PathBuf, usize)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir.join("blobs")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if let Some(at) = bytes.windows(4).position(|w| w == b"RCKP") {
            out.push((path, at));
        }
    }
    out
}

/// A damaged checkpoint value in a blob file is never silent. sled's recovery treats the first
/// record it cannot read back as the end of its log, and the checkpoint shares that log with
/// the events, so the events written after it are gone for sled too: the ledger refuses the
/// store (`Lost`), which `receipts salvage` then copies what it can read from. (A checkpoint
/// cache in a database of its own would cost only the cache; tried and not kept: sled then
/// skipped keys of a damaged node without an error, and the corruption matrix found answers
/// that were silently wrong. docs/storage.md, Checkpoints.)
#[test]
fn a_checkpoint_in_a_damaged_blob_file_is_refused_or_rebuilt_never_believed() {
    let dir = tempfile::tempdir().unwrap();
    let policy = Policy::all_receipts_on();
    let events = {
        let engine = Engine::open(
            dir.path(),
            EngineOptions::default()
                .with_policy(policy.clone())
                .with_checkpoint_every(None)
                .with_durability(Durability::Buffered),
        )
        .unwrap();
        // A group with a long history: its partition entry is large enough for sled to keep it
        // in a blob file of its own.
        let team = GroupId::new("team").unwrap();
        let group = ConversationId::Group(team.clone());
        let users: Vec<UserId> = (0..3)
            .map(|i| UserId::new(format!("u{i}")).unwrap())
            .collect();
        engine.join_group(&team, &users[0], Role::Owner).unwrap();
        for u in &users[1..] {
            engine.join_group(&team, u, Role::Member).unwrap();
        }
        for n in 0..3_000u128 {
            let m = MessageId(uuid::Uuid::from_u128(n + 1));
            engine
                .send_message(&group, m, &users[(n % 3) as usize])
                .unwrap();
        }
        engine.checkpoint().unwrap();
        // More history after it: the checkpoint is not at the end of sled's log.
        let chat = ConversationId::direct(users[0].clone(), users[1].clone()).unwrap();
        for n in 0..500u128 {
            let m = MessageId(uuid::Uuid::from_u128(10_000 + n));
            engine.send_message(&chat, m, &users[0]).unwrap();
        }
        let mut events = Vec::new();
        engine.log().replay(0, |e| events.push(e.event)).unwrap();
        events
    };
    let blobs = checkpoint_blobs(dir.path());
    assert!(
        !blobs.is_empty(),
        "the large partition entry is in a blob file"
    );
    for (path, at) in &blobs {
        let mut bytes = std::fs::read(path).unwrap();
        let flip = (*at + 200).min(bytes.len() - 1);
        bytes[flip] ^= 0x40;
        std::fs::write(path, bytes).unwrap();
    }
    match Engine::open(dir.path(), EngineOptions::default().with_policy(policy)) {
        Err(EngineError::Store(StoreError::Lost { .. } | StoreError::Damaged { .. })) => {}
        Err(e) => panic!("not the refusal of a damaged store: {e}"),
        Ok(engine) => support::assert_equals_cold_fold(&engine, &events, "damaged blob"),
    }
}
