//! Decoder fuzzing: random bytes, bit flips, truncations and huge length fields in chunk and
//! snapshot records, half of them with a recomputed (valid) checksum so the decoder itself is
//! reached, fed through the public API (open + replay, load_snapshot). Nothing may panic, every
//! damaged chunk must be a typed error, a damaged snapshot must be ignored, and no single
//! allocation may exceed a bound proportional to the input (checked per input; any allocation
//! over 256 MiB aborts the test process). `FUZZ_INPUTS` sets the count (100,000 by default).

mod support;

use receipt_store::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use support::*;

/// Tracks the largest single allocation; refuses any above the hard limit (the process then
/// aborts, failing the test).
struct Limited;

static LARGEST: AtomicUsize = AtomicUsize::new(0);
const HARD_LIMIT_BYTES: usize = 256 << 20;

unsafe impl GlobalAlloc for Limited {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > HARD_LIMIT_BYTES {
            return std::ptr::null_mut();
        }
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > HARD_LIMIT_BYTES {
            return std::ptr::null_mut();
        }
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Limited = Limited;

/// The largest single allocation that opening a log over `len` damaged bytes may make: 64 KiB
/// for the log's own fixed-size work, plus what is actually decoded (a decoded event or state
/// entry is larger than its encoding; 512 bytes per input byte bounds it). No container is
/// preallocated from a claimed length (`receipt_domain::bounded_serde`), and strings are
/// borrowed from the input before they are copied.
fn allowed_bytes(len: usize) -> usize {
    (64 << 10) + 512 * len
}

fn inputs() -> usize {
    std::env::var("FUZZ_INPUTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

/// A valid chunk record at position 0 and a valid snapshot record.
fn valid_records() -> (Vec<Vec<u8>>, Vec<u8>) {
    let log = MemoryLog::in_memory();
    let mut w = Workload::new(9);
    for _ in 0..30 {
        let r = w.next_request(&log);
        log.append(r.clone()).unwrap();
        w.apply(&r);
    }
    let chunks = keyspace(&log)
        .into_iter()
        .filter(|(k, _)| chunk_position(k) == Some(0))
        .map(|(_, v)| v)
        .collect();
    log.save_snapshot(log.head(), &w.state).unwrap();
    let snapshot = log.backend().get_snapshot().unwrap().unwrap();
    (chunks, snapshot)
}

/// Rewrites the record's trailing CRC-32 so the mutated bytes pass the checksum.
fn fix_crc(bytes: &mut [u8]) {
    if bytes.len() >= 28 {
        let end = bytes.len() - 4;
        let crc = crc32fast::hash(&bytes[..end]);
        bytes[end..].copy_from_slice(&crc.to_le_bytes());
    }
}

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut b = base.to_vec();
    match rng.below(5) {
        // Random bytes of a random length, behind a valid header shape sometimes.
        0 => {
            let len = rng.below(300) as usize;
            b = (0..len).map(|_| rng.next() as u8).collect();
            if rng.below(2) == 0 && b.len() >= 24 && base.len() >= 24 {
                b[..8].copy_from_slice(&base[..8]);
                let payload = (b.len().saturating_sub(28)) as u32;
                b[20..24].copy_from_slice(&payload.to_le_bytes());
            }
        }
        // Flip 1-4 bits anywhere.
        1 => {
            for _ in 0..=rng.below(4) {
                let at = rng.below(b.len() as u64) as usize;
                b[at] ^= 1 << rng.below(8);
            }
        }
        // Truncate.
        2 => b.truncate(rng.below(b.len() as u64) as usize),
        // A huge varint length (0xFD + u64) written at a random payload offset.
        3 => {
            if b.len() > 40 {
                let at = 24 + rng.below((b.len() - 40) as u64) as usize;
                b[at] = 0xFD;
                let claim = [u64::MAX, 1 << 40, 1 << 34, u32::MAX as u64][rng.below(4) as usize];
                b[at + 1..at + 9].copy_from_slice(&claim.to_le_bytes());
            }
        }
        // Overwrite a run of bytes with 0xFF (counts, tags and lengths at their maximum).
        _ => {
            let at = rng.below(b.len() as u64) as usize;
            let end = (at + 1 + rng.below(8) as usize).min(b.len());
            b[at..end].fill(0xFF);
        }
    }
    if rng.below(2) == 0 {
        fix_crc(&mut b);
    }
    b
}

#[test]
fn damaged_records_never_panic_nor_allocate_beyond_their_size() {
    let (chunks, snapshot) = valid_records();
    let mut rng = Rng(0xF022);
    let (mut chunk_errors, mut chunk_ok, mut snapshots_ignored, mut snapshots_used) =
        (0u64, 0u64, 0u64, 0u64);
    for i in 0..inputs() {
        let fuzz_snapshot = i % 2 == 1;
        let base = if fuzz_snapshot {
            &snapshot
        } else {
            &chunks[i % chunks.len()]
        };
        let bytes = mutate(&mut rng, base);
        let len = bytes.len();
        LARGEST.store(0, Ordering::Relaxed);
        let backend = MemoryBackend::new();
        if fuzz_snapshot {
            backend.put_snapshot(bytes).unwrap();
            let log = EventLog::open(backend, Durability::Buffered).unwrap();
            match log.load_snapshot() {
                None => snapshots_ignored += 1,
                Some((position, state)) => {
                    // Only a snapshot that passes every check may be used.
                    assert_eq!(position, 0, "the log is empty");
                    state.check_invariants().unwrap();
                    snapshots_used += 1;
                }
            }
        } else {
            let mut key = vec![b'c'];
            key.extend_from_slice(&0u64.to_be_bytes());
            backend.write_atomic(vec![(key, bytes.clone())]).unwrap();
            let outcome = EventLog::open(backend, Durability::Buffered)
                .and_then(|log| log.rebuild().map(|(end, _)| end));
            match outcome {
                Err(_) => chunk_errors += 1,
                Ok(_) => {
                    // Accepted bytes must be a whole valid chunk (a mutation that kept it so).
                    chunk_ok += 1;
                }
            }
        }
        let largest = LARGEST.load(Ordering::Relaxed);
        assert!(
            largest <= allowed_bytes(len),
            "input {i}: {len} bytes led to an allocation of {largest} bytes"
        );
    }
    eprintln!(
        "{} inputs: chunks {chunk_errors} refused with a typed error / {chunk_ok} still valid; snapshots {snapshots_ignored} ignored / {snapshots_used} still valid",
        inputs()
    );
    assert!(chunk_errors > 0 && snapshots_ignored > 0);
}
