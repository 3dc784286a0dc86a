//! Damaged bytes never panic and never pass silently: each yields a typed error naming the
//! position of the damaged record.

mod support;

use proptest::prelude::*;
use receipt_store::*;
use support::*;

/// A small valid log's raw key/value entries.
fn valid_entries() -> Vec<Entry> {
    let log = MemoryLog::in_memory();
    let mut w = Workload::new(3);
    for _ in 0..40 {
        let r = w.next_request(&log);
        log.append(r.clone()).unwrap();
        w.apply(&r);
    }
    keyspace(&log)
}

/// Opens and fully replays a log made of `entries`.
fn open_and_replay(entries: Vec<Entry>) -> Result<u64, StoreError> {
    let backend = MemoryBackend::new();
    backend.write_atomic(entries).unwrap();
    let log = EventLog::open(backend, Durability::Buffered)?;
    log.rebuild().map(|(end, _)| end)
}

fn error_position(e: &StoreError) -> Option<u64> {
    match e {
        StoreError::Corrupt { position, .. } | StoreError::UnsupportedFormat { position, .. } => {
            Some(*position)
        }
        _ => None,
    }
}

fn head_of(entries: &[Entry]) -> u64 {
    let (_, v) = entries.iter().find(|(k, _)| k.as_slice() == b"h").unwrap();
    u64::from_be_bytes(v.as_slice().try_into().unwrap())
}

#[test]
fn the_valid_log_replays_to_its_head() {
    let entries = valid_entries();
    let head = head_of(&entries);
    assert!(head >= 40, "40 decisions of at least one event each");
    assert_eq!(open_and_replay(entries).unwrap(), head);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn any_flipped_bit_in_a_chunk_is_reported_at_its_position(pick in any::<usize>(), bit in any::<usize>()) {
        let mut entries = valid_entries();
        let chunks: Vec<usize> = (0..entries.len()).filter(|&i| chunk_position(&entries[i].0).is_some()).collect();
        let i = chunks[pick % chunks.len()];
        let position = chunk_position(&entries[i].0).unwrap();
        let value = &mut entries[i].1;
        let b = bit % (value.len() * 8);
        value[b / 8] ^= 1 << (b % 8);
        let err = open_and_replay(entries).unwrap_err();
        prop_assert_eq!(error_position(&err), Some(position), "{}", err);
    }

    #[test]
    fn arbitrary_bytes_as_a_chunk_are_a_typed_error(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut entries = valid_entries();
        let i = entries.iter().position(|(k, _)| chunk_position(k) == Some(0)).unwrap();
        entries[i].1 = bytes;
        let err = open_and_replay(entries).unwrap_err();
        prop_assert_eq!(error_position(&err), Some(0), "{}", err);
    }

    /// A record whose checksum is right but whose payload is garbage: the decoder itself must
    /// refuse it (bounded allocation, no panic, ids re-validated).
    #[test]
    fn garbage_payload_with_a_valid_checksum_is_a_typed_error(payload in prop::collection::vec(any::<u8>(), 0..300), count in 0u32..4) {
        let mut record = Vec::new();
        record.extend_from_slice(b"RCPT");
        record.extend_from_slice(&[FORMAT_VERSION, 1]);
        record.extend_from_slice(&SCHEMA_VERSION.to_le_bytes());
        record.extend_from_slice(&0u64.to_le_bytes());
        record.extend_from_slice(&count.to_le_bytes());
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&payload);
        let crc = crc32fast::hash(&record);
        record.extend_from_slice(&crc.to_le_bytes());
        let head = 1u64.max(u64::from(count));
        let entries = vec![(b"c\0\0\0\0\0\0\0\0".to_vec(), record), (b"h".to_vec(), head.to_be_bytes().to_vec())];
        let result = open_and_replay(entries);
        // Random payloads essentially never form valid events; if one does, it must replay cleanly.
        if let Err(e) = result {
            prop_assert_eq!(error_position(&e), Some(0), "{}", e);
        }
    }

    #[test]
    fn arbitrary_bytes_in_index_entries_never_panic(key_pick in any::<usize>(), bytes in prop::collection::vec(any::<u8>(), 0..40)) {
        let mut entries = valid_entries();
        let others: Vec<usize> = (0..entries.len()).filter(|&i| chunk_position(&entries[i].0).is_none()).collect();
        let i = others[key_pick % others.len()];
        entries[i].1 = bytes;
        let clean = open_and_replay(valid_entries()).unwrap();
        let backend = MemoryBackend::new();
        backend.write_atomic(entries).unwrap();
        // Index damage may or may not be noticed, but what is returned is never invented: a
        // replay (which does not use the index) returns the whole clean log or a typed error,
        // and a stream read returns only that stream's events or a typed error.
        if let Ok(log) = EventLog::open(backend, Durability::Buffered) {
            if let Ok((end, _)) = log.rebuild() {
                prop_assert_eq!(end, clean);
            }
            let c = chat("ann", "bob");
            if let Ok(events) = log.read_stream(&c, 1, 100) {
                prop_assert!(events.iter().all(|e| e.event.body.conversation() == c));
            }
        }
    }
}

#[test]
fn a_missing_chunk_is_a_gap_reported_at_its_position() {
    let mut entries = valid_entries();
    let chunks: Vec<usize> = (0..entries.len())
        .filter(|&i| chunk_position(&entries[i].0).is_some())
        .collect();
    let middle = chunks[chunks.len() / 2];
    let position = chunk_position(&entries[middle].0).unwrap();
    entries.remove(middle);
    let err = open_and_replay(entries).unwrap_err();
    assert_eq!(error_position(&err), Some(position), "{err}");
}

#[test]
fn a_damaged_sled_directory_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = SledLog::open_dir(dir.path(), Durability::EveryAppend).unwrap();
        log.append(request(&chat("ann", "bob"), 0, &[1])).unwrap();
    }
    // Overwrite every sled file with noise.
    for entry in walk(dir.path()) {
        let len = std::fs::metadata(&entry).unwrap().len() as usize;
        std::fs::write(&entry, vec![0xA5; len.max(64)]).unwrap();
    }
    let opened = SledLog::open_dir(dir.path(), Durability::EveryAppend);
    match opened {
        Err(_) => {}
        // sled may treat noise as an empty store; then the log must be empty, not invented.
        Ok(log) => assert_eq!(log.rebuild().map(|(end, _)| end).unwrap_or(0), 0),
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
