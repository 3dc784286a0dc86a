//! The storage crate's golden fixtures (one per storage format, never rewritten) opened by the
//! Engine: every badge, conversation list and partition equals a cold fold of the fixture's
//! log. v1 and v2 have no checkpoint (the first open builds one from the log); v3's
//! to v9's checkpoints are of layouts 1 to 6, which this build rebuilds from the log; v10's, of
//! layout 7 (threads), about 50 events before its end, was used as it is while that was this
//! build's layout; v11's too; v12's, of layout 8 (bound entries), is.

mod support;

use receipt_engine::store::CHECKPOINT_LAYOUT_VERSION;
use receipt_engine::*;
use std::path::Path;

fn open_fixture(version: &str) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/receipt-store/tests/fixtures")
        .join(version)
        .join("sled");
    support::copy_dir(&fixture, dir.path());
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    (dir, engine)
}

#[test]
fn every_fixture_answers_like_a_cold_fold_of_its_log() {
    for version in [
        "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12",
    ] {
        let (_dir, engine) = open_fixture(version);
        let mut events = Vec::new();
        engine.log().replay(0, |e| events.push(e.event)).unwrap();
        // 200 appends each; since v6 a send with mentions appends two events in one decision.
        let want = match version {
            "v6" | "v8" | "v9" => 206,
            "v10" | "v11" | "v12" => 205,
            "v7" => 204,
            _ => 200,
        };
        assert_eq!(events.len(), want, "{version}");
        support::assert_equals_cold_fold(&engine, &events, version);
        // A marker of another layout is counted once, and every entry rebuilt.
        let layout = match version {
            "v3" => Some(1),
            "v4" => Some(2),
            "v5" => Some(3),
            "v6" | "v7" => Some(4),
            "v8" => Some(5),
            "v9" => Some(6),
            "v10" | "v11" => Some(7),
            "v12" => Some(8),
            _ => None,
        };
        let older = layout.is_some_and(|l| l != CHECKPOINT_LAYOUT_VERSION);
        assert_eq!(
            engine.cache_stats().unusable_entries,
            u64::from(older),
            "{version}"
        );
    }
}

#[test]
fn the_checkpoint_of_this_layout_is_used_and_only_its_tail_is_folded() {
    let (current, marker) = match CHECKPOINT_LAYOUT_VERSION {
        1 => ("v3", 150),
        2 => ("v4", 150),
        3 => ("v5", 150),
        4 => ("v7", 154),
        5 => ("v8", 154),
        6 => ("v9", 154),
        7 => ("v10", 153),
        _ => ("v12", 153),
    };
    let (_dir, engine) = open_fixture(current);
    let stats = engine.cache_stats();
    {
        // The tail (the last 50 events) was folded into the partitions it touches, each
        // loaded from its checkpoint: fewer loads than conversations, no entry rebuilt.
        assert!(stats.loads > 0, "{stats:?}");
        assert_eq!(stats.unusable_entries, 0, "{stats:?}");
        let report = engine.log().verify().unwrap();
        assert_eq!(report.checkpoint.marker, Some(marker));
        assert!(
            stats.loads < report.streams,
            "{stats:?} vs {} streams",
            report.streams
        );
        // The marker's count of held read acks plus the tail's changes: the log's count.
        let mut events = Vec::new();
        engine.log().replay(0, |e| events.push(e.event)).unwrap();
        let held = domain::HeldEarlyAcks::of(&State::from_events(&events));
        assert_eq!(engine.early_acks_held(), held.total());
    }
}
