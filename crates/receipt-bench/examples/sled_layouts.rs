//! What a sled database costs to open, by how its history is laid out: the measurement behind
//! the compact log's design (issue 22, docs/ARCHITECTURE.md "Why the compact log packs sealed
//! history"). Synthetic values sized like the store's records, written through sled itself:
//!
//! - `per-key`: today's layout, per event: a chunk key (`c` + position, a 120-byte value), an
//!   event-id key (`e` + a random 16-byte id), a stream run (`s` + a 20-byte stream key +
//!   version), and for one event in three a message-id key (`m` + a random 16-byte id).
//! - `packed`: the same tail of at most `TAIL_EVENTS` events per key; everything older sealed
//!   into epochs of `EPOCH_EVENTS` events: chunk segments of `SEGMENT_EVENTS` events (48 bytes
//!   an event), and the epoch's message-id and command-id indexes as sorted blocks of
//!   `BLOCK_ENTRIES` entries. Sealing writes the packed values and removes the epoch's keys,
//!   as the real seal would, so sled's garbage is measured too.
//! - `epochs`: as `packed`, but each sealed epoch is a sled database of its own
//!   (`epochs/NNNNNN/`, written once and closed) that an open does not touch; the main database
//!   holds the tail (its sealed keys removed, as in `packed`).
//!
//! Each store is written by one child process and closed; each open is a fresh child that opens
//! sled, reads the last chunk and one index entry, and reports the time to that first answer and
//! its resident memory. Three opens per store, the median shown.
//!
//! `cargo run --release -p receipt-bench --example sled_layouts -- [EVENTS ...]`
//! (default: 100000 1000000 3000000; `LAYOUTS=packed,epochs` for some layouts only).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

const TAIL_EVENTS: u64 = 16_384;
const EPOCH_EVENTS: u64 = 65_536;
const SEGMENT_EVENTS: u64 = 1_024;
const PACKED_EVENT_BYTES: usize = 48;
const CHUNK_VALUE_BYTES: usize = 120;
const BLOCK_ENTRIES: usize = 2_048;

/// xorshift64*: seeded, reproducible "random" ids and value bytes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn id(&mut self) -> [u8; 16] {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.next().to_be_bytes());
        id[8..].copy_from_slice(&self.next().to_be_bytes());
        id
    }
}

fn key(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = vec![tag];
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

type Entry = (Vec<u8>, Vec<u8>);

/// The per-key entries of event `position` (what today's append writes for it), its event id,
/// and whether it is a message.
fn per_key_entries(position: u64, rng: &mut Rng) -> (Vec<Entry>, [u8; 16], bool) {
    let stream = (position % 20_000).to_be_bytes();
    let event_id = rng.id();
    let mut puts = vec![
        (
            key(b'c', &[&position.to_be_bytes()]),
            rng.bytes(CHUNK_VALUE_BYTES),
        ),
        (key(b'e', &[&event_id]), position.to_be_bytes().repeat(2)),
        (
            key(b's', &[&stream, &[0u8; 12], &position.to_be_bytes()]),
            rng.bytes(16),
        ),
    ];
    let message = position.is_multiple_of(3);
    if message {
        puts.push((key(b'm', &[&rng.id()]), stream.repeat(2)));
    }
    (puts, event_id, message)
}

fn open_db(dir: &Path) -> (sled::Db, sled::Tree) {
    let db = sled::Config::new()
        .path(dir)
        .flush_every_ms(None)
        .open()
        .expect("open sled");
    let tree = db.open_tree("receipts").expect("tree");
    (db, tree)
}

fn write(dir: &Path, layout: &str, events: u64) {
    let (db, tree) = open_db(dir);
    let mut rng = Rng(0x5EED_0001);
    let sealed_up_to = match layout {
        "packed" | "epochs" => events.saturating_sub(TAIL_EVENTS) / EPOCH_EVENTS * EPOCH_EVENTS,
        _ => 0,
    };
    let mut epoch_keys: Vec<Vec<u8>> = Vec::new();
    let mut epoch_ids: Vec<[u8; 16]> = Vec::new();
    let mut epoch_messages: Vec<[u8; 16]> = Vec::new();
    for position in 0..events {
        let (puts, event_id, message) = per_key_entries(position, &mut rng);
        for (k, v) in puts {
            if position < sealed_up_to {
                epoch_keys.push(k.clone());
            }
            tree.insert(k, v).expect("insert");
        }
        if position < sealed_up_to {
            epoch_ids.push(event_id);
            if message {
                epoch_messages.push(rng.id());
            }
            if (position + 1) % EPOCH_EVENTS == 0 {
                let first = position + 1 - EPOCH_EVENTS;
                if layout == "epochs" {
                    let epoch_dir = dir
                        .join("epochs")
                        .join(format!("{:06}", first / EPOCH_EVENTS));
                    let (epoch_db, epoch_tree) = open_db(&epoch_dir);
                    seal(&epoch_tree, first, &mut rng, &epoch_ids, &epoch_messages);
                    epoch_db.flush().expect("flush epoch");
                } else {
                    seal(&tree, first, &mut rng, &epoch_ids, &epoch_messages);
                }
                for k in epoch_keys.drain(..) {
                    tree.remove(k).expect("remove");
                }
                epoch_ids.clear();
                epoch_messages.clear();
            }
        }
    }
    db.flush().expect("flush");
}

/// The packed form of one epoch: chunk segments and sorted index blocks.
fn seal(tree: &sled::Tree, first: u64, rng: &mut Rng, ids: &[[u8; 16]], messages: &[[u8; 16]]) {
    for segment in 0..EPOCH_EVENTS / SEGMENT_EVENTS {
        let at = first + segment * SEGMENT_EVENTS;
        tree.insert(
            key(b'C', &[&at.to_be_bytes()]),
            rng.bytes(SEGMENT_EVENTS as usize * PACKED_EVENT_BYTES),
        )
        .expect("segment");
    }
    for (tag, entry_bytes, list) in [(b'K', 24usize, ids), (b'M', 20, messages)] {
        let mut sorted = list.to_vec();
        sorted.sort_unstable();
        for block in sorted.chunks(BLOCK_ENTRIES) {
            tree.insert(
                key(tag, &[&first.to_be_bytes(), &block[0]]),
                rng.bytes(block.len() * entry_bytes),
            )
            .expect("block");
        }
    }
}

/// Opens the store and answers one question: the last chunk, and an index lookup.
fn open(dir: &Path) -> (f64, f64) {
    let started = Instant::now();
    let (_db, tree) = open_db(dir);
    let last = tree
        .range(b"c".to_vec()..b"d".to_vec())
        .next_back()
        .expect("a chunk")
        .expect("readable");
    let looked_up = tree.get(b"e0000000000000000").expect("lookup");
    std::hint::black_box((last, looked_up));
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let rss_mb = memory_stats::memory_stats().map_or(0.0, |m| m.physical_mem as f64 / 1e6);
    (ms, rss_mb)
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        dir_bytes(&p)
                    } else {
                        e.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn child(args: &[&str]) -> String {
    let me = std::env::current_exe().expect("own path");
    let out = Command::new(me).args(args).output().expect("child");
    assert!(out.status.success(), "child {args:?} failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--write") => {
            let events: u64 = args[3].parse().expect("events");
            let started = Instant::now();
            write(Path::new(&args[1]), &args[2], events);
            println!("{:.1}", started.elapsed().as_secs_f64());
            return;
        }
        Some("--open") => {
            let (ms, rss) = open(Path::new(&args[1]));
            println!("{ms:.2} {rss:.1}");
            return;
        }
        _ => {}
    }
    let sizes: Vec<u64> = if args.is_empty() {
        vec![100_000, 1_000_000, 3_000_000]
    } else {
        args.iter().map(|a| a.parse().expect("events")).collect()
    };
    // `LAYOUTS=packed,epochs` measures only those.
    let layouts = std::env::var("LAYOUTS").unwrap_or_else(|_| "per-key,packed,epochs".into());
    println!("| layout | events | write s | disk B/event | open -> first answer ms (median of 3) | RSS MB |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for &events in &sizes {
        for layout in layouts.split(',') {
            let dir = tempfile::tempdir().expect("temp dir");
            let d = dir.path().to_string_lossy().to_string();
            let write_s = child(&["--write", &d, layout, &events.to_string()]);
            let bytes = dir_bytes(dir.path());
            let mut opens: Vec<(f64, f64)> = (0..3)
                .map(|_| {
                    let line = child(&["--open", &d]);
                    let mut it = line
                        .split(' ')
                        .map(|x| x.parse::<f64>().unwrap_or(f64::NAN));
                    (it.next().unwrap_or(f64::NAN), it.next().unwrap_or(f64::NAN))
                })
                .collect();
            opens.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (ms, rss) = opens[1];
            println!(
                "| {layout} | {events} | {write_s} | {:.0} | {ms:.1} | {rss:.0} |",
                bytes as f64 / events as f64
            );
        }
    }
}
