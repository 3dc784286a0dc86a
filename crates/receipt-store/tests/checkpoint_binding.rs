//! Checkpoint entries are bound to their key, their checkpoint's generation and (summaries)
//! their user's roster: an entry deleted, moved under another key, left from another
//! generation or put back from an earlier checkpoint comes back unusable, never believed.

mod support;

use receipt_domain::*;
use receipt_store::*;
use std::sync::Arc;
use support::{chat, request, user};

fn summary(read_count: u32) -> ReaderSummary {
    ReaderSummary {
        read_count,
        ..ReaderSummary::default()
    }
}

/// A log with one event in each of two chats, and a checkpoint holding ann's summaries in both.
fn log_with_checkpoint() -> (EventLog<MemoryBackend>, ConversationId, ConversationId) {
    let log = EventLog::open(MemoryBackend::new(), Durability::EveryAppend).unwrap();
    let (one, two) = (chat("ann", "bob"), chat("ann", "cat"));
    log.append(request(&one, 0, &[1])).unwrap();
    log.append(request(&two, 0, &[2])).unwrap();
    log.write_checkpoint(&CheckpointWrite {
        marker: Some(2),
        summaries: vec![
            (user("ann"), one.clone(), summary(1)),
            (user("ann"), two.clone(), summary(2)),
        ],
        headers: vec![(one.clone(), ConversationHeader::default(), 1)],
        partitions: vec![(one.clone(), Arc::new(State::new()))],
        ..CheckpointWrite::default()
    })
    .unwrap();
    (log, one, two)
}

fn key_of(log: &EventLog<MemoryBackend>, tag: u8, nth: usize) -> (Vec<u8>, Vec<u8>) {
    log.backend()
        .checkpoint_range(&[tag], &[tag + 1])
        .map(|e| e.unwrap())
        .nth(nth)
        .unwrap()
}

#[test]
fn a_summary_is_believed_as_written() {
    let (log, one, two) = log_with_checkpoint();
    let ann = user("ann");
    assert_eq!(log.load_summary(&ann, &one).unwrap(), Some(Ok(summary(1))));
    let all = log.load_user_summaries(&ann).unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all.iter().all(|(_, s)| s.is_ok()), "{all:?}");
    assert_eq!(log.load_summary(&ann, &two).unwrap(), Some(Ok(summary(2))));
}

#[test]
fn a_summary_put_back_from_an_earlier_checkpoint_is_unusable() {
    let (log, one, _) = log_with_checkpoint();
    let ann = user("ann");
    let (key, earlier) = key_of(&log, b'U', 0);
    log.write_checkpoint(&CheckpointWrite {
        marker: Some(2),
        summaries: vec![(ann.clone(), one.clone(), summary(5))],
        ..CheckpointWrite::default()
    })
    .unwrap();
    assert_eq!(log.load_summary(&ann, &one).unwrap(), Some(Ok(summary(5))));
    log.backend()
        .checkpoint_write(vec![(key, earlier)])
        .unwrap();
    assert!(
        matches!(log.load_summary(&ann, &one).unwrap(), Some(Err(_))),
        "a stale summary is not believed"
    );
    let all = log.load_user_summaries(&ann).unwrap();
    assert!(all.iter().any(|(c, s)| *c == one && s.is_err()), "{all:?}");
}

#[test]
fn a_summary_under_another_key_is_unusable() {
    let (log, one, two) = log_with_checkpoint();
    let ann = user("ann");
    let (first, _) = key_of(&log, b'U', 0);
    let (_, second) = key_of(&log, b'U', 1);
    log.backend()
        .checkpoint_write(vec![(first, second)])
        .unwrap();
    let all = log.load_user_summaries(&ann).unwrap();
    let bad: Vec<_> = all.iter().filter(|(_, s)| s.is_err()).collect();
    assert_eq!(bad.len(), 1, "{all:?}");
    let _ = (one, two);
}
