//! A crash between a chunk's insert (the commit point) and its index entries loses some of the
//! entries. Opening repairs them: the repaired keyspace is byte for byte the keyspace of an
//! uninterrupted run, whatever subset of the entries was lost.

mod support;

use proptest::prelude::*;
use receipt_store::*;
use support::*;

fn build(seed: u64, appends: usize) -> Vec<Entry> {
    let log = MemoryLog::in_memory();
    let mut w = Workload::new(seed);
    let mut pending = Vec::new();
    for i in 0..appends {
        let mut r = w.next_request(&log);
        // Batches of up to three decisions on distinct streams, so chunks hold several runs.
        if pending
            .iter()
            .any(|p: &AppendRequest| p.conversation == r.conversation)
        {
            log.append_batch(&pending).unwrap();
            pending.clear();
            r.expected_version = log.version(&r.conversation).unwrap();
        }
        w.apply(&r);
        pending.push(r);
        if pending.len() == 3 || i + 1 == appends {
            log.append_batch(&pending).unwrap();
            pending.clear();
        }
    }
    keyspace(&log)
}

fn run_chunk(value: &[u8]) -> u64 {
    u64::from_be_bytes(value[..8].try_into().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn lost_index_entries_are_rewritten_exactly(seed in 1u64..1000, cut in any::<usize>(), lose in prop::collection::vec(any::<bool>(), 64)) {
        let original = build(seed, 30);
        let chunks: Vec<u64> = original.iter().filter_map(|(k, _)| chunk_position(k)).collect();
        let cut_at = chunks[cut % chunks.len()];
        // Keep every chunk; lose a random subset of the runs of chunks at or after the cut;
        // the watermark says only the chunks before the cut were indexed.
        let mut i = 0;
        let damaged: Vec<Entry> = original
            .iter()
            .filter(|(k, v)| {
                if k[0] == b's' && run_chunk(v) >= cut_at {
                    i += 1;
                    !lose[i % lose.len()]
                } else {
                    true
                }
            })
            .map(|(k, v)| if k.as_slice() == b"h" { (k.clone(), cut_at.to_be_bytes().to_vec()) } else { (k.clone(), v.clone()) })
            .collect();
        let backend = MemoryBackend::new();
        backend.write_atomic(damaged).unwrap();
        let log = EventLog::open(backend, Durability::Buffered).unwrap();
        // The open binds the keyspace to the ledger it creates (a fresh store tag, `l`): the
        // rest must be the uninterrupted run's keyspace byte for byte.
        let repaired: Vec<Entry> = log.backend().range(b"", &[0xFF]).map(|e| e.unwrap()).filter(|(k, _)| k.as_slice() != b"l").collect();
        prop_assert_eq!(repaired, original);
    }
}

#[test]
fn an_index_watermark_past_the_chunks_is_corruption() {
    let mut entries = build(5, 10);
    let h = entries
        .iter_mut()
        .find(|(k, _)| k.as_slice() == b"h")
        .unwrap();
    h.1 = u64::MAX.to_be_bytes().to_vec();
    let backend = MemoryBackend::new();
    backend.write_atomic(entries).unwrap();
    assert!(matches!(
        EventLog::open(backend, Durability::Buffered),
        Err(StoreError::Corrupt { .. })
    ));
}
