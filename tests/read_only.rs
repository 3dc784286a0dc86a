//! Read-only opens (`Engine::open_read_only`): a store closed cleanly answers every query with
//! nothing of it changed, byte for byte, and no sync call of the engine's; commands and
//! checkpoints are refused with a typed error; a store that needs a recovery first is refused
//! before sled touches its files. docs/storage.md, "Read-only opens".

mod support;

use receipt_engine::*;
use receipt_workload::WorkloadConfig;
use std::collections::BTreeMap;
use std::path::Path;

/// Every file of a store directory, by relative path, with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                out.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// The files the engine itself writes (sled's are `db`, `conf`, `snap.*` and `blobs/`).
const ENGINE_FILES: [&str; 2] = ["receipts.ledger", store::CLEAN_CLOSE_FILE];

/// The names of the files that differ between two listings (added, removed or changed).
fn changed(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut names: Vec<String> = before.keys().chain(after.keys()).cloned().collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|n| before.get(n) != after.get(n))
        .collect()
}

fn options(policy: &Policy) -> EngineOptions {
    EngineOptions::default().with_policy(policy.clone())
}

/// A store of `commands` workload commands: the first half checkpointed at a clean close,
/// the second half by an engine that never checkpoints, so a fresh open has a tail to fold.
fn store_with_a_tail(dir: &Path, commands: u64) -> (Vec<Event>, Policy) {
    let config = WorkloadConfig::sized(commands, 41);
    let policy = config.policy();
    let all: Vec<_> = receipt_workload::Workload::new(config).collect();
    let (first, second) = all.split_at(all.len() / 2);
    let run = |engine: &Engine, part: &[receipt_domain::Command]| {
        for c in part {
            match engine.execute_command(c.clone()) {
                Ok(_) | Err(EngineError::Rejected(_)) => {}
                Err(e) => panic!("building the store: {e}"),
            }
        }
    };
    {
        let engine = Engine::open(dir, options(&policy)).unwrap();
        run(&engine, first);
    }
    let engine = Engine::open(dir, options(&policy).with_checkpoint_every(None)).unwrap();
    run(&engine, second);
    let mut events = Vec::new();
    engine.log().replay(0, |e| events.push(e.event)).unwrap();
    (events, policy)
}

#[test]
fn a_read_only_engine_answers_like_a_cold_fold_and_changes_no_byte_of_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (events, policy) = store_with_a_tail(dir.path(), 400);
    let written = files(dir.path());
    // Three times the same session. sled has work left by the writer that its first reader
    // does, whoever that is: reads split or merge the nodes the last writes left over sled's
    // thresholds (sled does both on traversal, through its log), and every open writes sled's
    // page-table snapshot when sled's log moved since the last one. So the first two sessions
    // may change sled's files, never the engine's; by the third, sled is done and no byte
    // changes.
    for session in 1..=3 {
        let before = files(dir.path());
        read_only_session(dir.path(), &events, &policy);
        let changes = changed(&before, &files(dir.path()));
        let engines: Vec<&String> = changes
            .iter()
            .filter(|n| ENGINE_FILES.contains(&n.as_str()))
            .collect();
        assert!(engines.is_empty(), "session {session} changed {engines:?}");
        if session == 3 {
            assert_eq!(
                changes,
                Vec::<String>::new(),
                "the third session changed files"
            );
        }
    }
    for name in ENGINE_FILES {
        assert_eq!(
            written.get(name),
            files(dir.path()).get(name),
            "{name} is as the writer left it"
        );
    }
    // The store still opens for writing, with every event.
    let engine = Engine::open(dir.path(), options(&policy)).unwrap();
    support::assert_equals_cold_fold(&engine, &events, "reopened for writing");
}

/// Opens the store read-only, checks every answer, a refused command and checkpoint, and that
/// the engine made no sync call.
fn read_only_session(dir: &Path, events: &[Event], policy: &Policy) {
    {
        // A 1-byte budget: every partition is evicted after use, changed ones (the folded
        // tail) included, and loaded again for the next question.
        let engine = Engine::open_read_only(dir, options(policy).with_memory_budget(1)).unwrap();
        assert!(
            engine.log().is_read_only(),
            "the log underneath is read-only"
        );
        support::assert_equals_cold_fold(&engine, events, "read-only, 1-byte budget");
        let stats = engine.cache_stats();
        assert!(stats.evictions > 0, "partitions were evicted: {stats:?}");
        assert_eq!(stats.eviction_writes, 0, "nothing written on eviction");

        let (ann, bob) = (
            UserId::new("ro-ann").unwrap(),
            UserId::new("ro-bob").unwrap(),
        );
        let chat = ConversationId::direct(ann.clone(), bob).unwrap();
        let refused = engine.send_message(&chat, MessageId(uuid::Uuid::now_v7()), &ann);
        assert!(
            matches!(
                refused,
                Err(EngineError::Store(store::StoreError::ReadOnly { .. }))
            ),
            "a command is refused: {refused:?}"
        );
        let checkpoint = engine.checkpoint();
        assert!(
            matches!(
                checkpoint,
                Err(EngineError::Store(store::StoreError::ReadOnly { .. }))
            ),
            "a checkpoint is refused: {checkpoint:?}"
        );
        engine.flush().unwrap();
        assert_eq!(engine.head(), events.len() as u64, "nothing appended");
        assert_eq!(
            engine.log().syncs(),
            store::SyncCounts::default(),
            "the engine made no sync call and began no flush"
        );
    }
}

#[test]
fn a_store_not_closed_cleanly_is_refused_before_sled_opens_it_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (events, policy) = store_with_a_tail(dir.path(), 300);
    // What a kill -9 leaves: no clean-close marker (a writing open removes it first).
    std::fs::remove_file(dir.path().join(store::CLEAN_CLOSE_FILE)).unwrap();
    let before = files(dir.path());
    let refused = Engine::open_read_only(dir.path(), options(&policy));
    match &refused {
        Err(EngineError::Store(e @ store::StoreError::NeedsRecovery { reason, .. })) => {
            assert!(reason.contains("not close it cleanly"), "{reason}");
            assert!(
                e.to_string().contains("Engine::open"),
                "says what to do: {e}"
            );
        }
        other => panic!("expected NeedsRecovery, got {other:?}"),
    }
    drop(refused);
    assert_eq!(
        changed(&before, &files(dir.path())),
        Vec::<String>::new(),
        "a refused read-only open changed files"
    );
    // A writing open recovers it; read-only opens work again after its clean close.
    drop(Engine::open(dir.path(), options(&policy)).unwrap());
    let engine = Engine::open_read_only(dir.path(), options(&policy)).unwrap();
    support::assert_equals_cold_fold(&engine, &events, "read-only after the recovery");
}

#[test]
fn a_store_without_checkpoints_is_refused_read_only_and_nothing_is_created() {
    // A log written without checkpoints (the store crate alone): an engine must fold and
    // checkpoint it, which a read-only open does not do.
    let dir = tempfile::tempdir().unwrap();
    {
        // The events an engine decides, appended by the store crate alone.
        let decided = Engine::in_memory(EngineOptions::default()).unwrap();
        let (ann, bob) = (UserId::new("ann").unwrap(), UserId::new("bob").unwrap());
        let chat = ConversationId::direct(ann.clone(), bob).unwrap();
        let sent = decided
            .send_message(&chat, MessageId(uuid::Uuid::now_v7()), &ann)
            .unwrap();
        let log = store::SledLog::open_dir(dir.path(), store::Durability::EveryAppend).unwrap();
        log.append(store::AppendRequest {
            conversation: chat,
            expected_version: 0,
            events: sent.events,
        })
        .unwrap();
    }
    let before = files(dir.path());
    let refused = Engine::open_read_only(dir.path(), EngineOptions::default());
    assert!(
        matches!(
            refused,
            Err(EngineError::Store(store::StoreError::NeedsRecovery { .. }))
        ),
        "{refused:?}"
    );
    drop(refused);
    // sled's first open after the writes may write its snapshot; the engine wrote nothing
    // (no ledger write, no checkpoint, no clean-close marker taken).
    let changes = changed(&before, &files(dir.path()));
    assert!(
        !changes.iter().any(|n| ENGINE_FILES.contains(&n.as_str())),
        "{changes:?}"
    );
    let missing = Engine::open_read_only(dir.path().join("none"), EngineOptions::default());
    assert!(missing.is_err(), "no store is created read-only");
    assert!(!dir.path().join("none").exists(), "nothing was created");
}

#[cfg(feature = "tokio")]
#[test]
fn the_async_facade_opens_read_only_too() {
    let dir = tempfile::tempdir().unwrap();
    let (events, policy) = store_with_a_tail(dir.path(), 200);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let engine =
            receipt_engine::asynchronous::AsyncEngine::open_read_only(dir.path(), options(&policy))
                .await
                .unwrap();
        support::assert_equals_cold_fold(engine.engine(), &events, "async read-only");
        let (ann, bob) = (
            UserId::new("ro-ann").unwrap(),
            UserId::new("ro-bob").unwrap(),
        );
        let chat = ConversationId::direct(ann.clone(), bob).unwrap();
        let refused = engine
            .execute(CommandKind::SendMessage {
                conversation: chat,
                message: MessageId(uuid::Uuid::now_v7()),
                sender: ann,
                needs_group_ack: false,
            })
            .await;
        assert!(
            matches!(
                refused,
                Err(EngineError::Store(store::StoreError::ReadOnly { .. }))
            ),
            "{refused:?}"
        );
    });
}
