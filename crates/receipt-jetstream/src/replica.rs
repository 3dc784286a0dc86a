//! A replica kept on disk (sled) between openings: a small file beside it says up to which
//! sequence of each partition it holds the log, so the next opening reads only what follows.
//!
//! The file is a cache marker, never the truth. It names the log and the partitions the
//! replica is of (a replica of other partitions would answer for conversations this process
//! does not own); the sequences are written only at a clean close, after the replica is
//! flushed, and dropped at every opening, so after a crash the next opening reads every
//! partition from its start (appends the replica holds already are recognised by their event
//! ids and skipped). Text, one `key=value` per line after a version line, so a person can read
//! it:
//!
//! ```text
//! receipts-jetstream-replica 1
//! log=<prefix>
//! partitions=<P>
//! owned=<n>,<n>,...
//! p<n>=<last sequence of partition n held>   (after a clean close: one per owned partition)
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The marker's name inside the replica's directory.
pub const REPLICA_MARKER_FILE: &str = "jetstream-replica";
const VERSION_LINE: &str = "receipts-jetstream-replica 1";

/// What a replica holds: of which log and partitions, and (after a clean close) up to which
/// sequence of each partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    pub prefix: String,
    pub partitions: u32,
    pub owned: Vec<u32>,
    pub sequences: BTreeMap<u32, u64>,
}

fn marker(dir: &Path) -> PathBuf {
    dir.join(REPLICA_MARKER_FILE)
}

/// The marker in `dir`, if there is a readable one (anything else reads as none).
pub(crate) fn read(dir: &Path) -> Option<Held> {
    let text = std::fs::read_to_string(marker(dir)).ok()?;
    let mut lines = text.lines();
    if lines.next()? != VERSION_LINE {
        return None;
    }
    let mut held = Held {
        prefix: String::new(),
        partitions: 0,
        owned: Vec::new(),
        sequences: BTreeMap::new(),
    };
    for line in lines {
        let (key, value) = line.split_once('=')?;
        match key {
            "log" => held.prefix = value.to_string(),
            "partitions" => held.partitions = value.parse().ok()?,
            "owned" => {
                held.owned = value
                    .split(',')
                    .filter(|v| !v.is_empty())
                    .map(|v| v.parse().ok())
                    .collect::<Option<Vec<u32>>>()?
            }
            _ => {
                let p = key.strip_prefix('p')?.parse().ok()?;
                held.sequences.insert(p, value.parse().ok()?);
            }
        }
    }
    Some(held)
}

/// Writes the marker atomically and durably (a temporary file, synced, renamed, the directory
/// synced).
pub(crate) fn write(dir: &Path, held: &Held) -> std::io::Result<()> {
    let owned: Vec<String> = held.owned.iter().map(u32::to_string).collect();
    let mut text = format!(
        "{VERSION_LINE}\nlog={}\npartitions={}\nowned={}\n",
        held.prefix,
        held.partitions,
        owned.join(",")
    );
    for (p, sequence) in &held.sequences {
        text.push_str(&format!("p{p}={sequence}\n"));
    }
    let temporary = dir.join(format!("{REPLICA_MARKER_FILE}.tmp"));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, marker(dir))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_reads_back_and_a_damaged_one_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()), None);
        let held = Held {
            prefix: "chat.prod".into(),
            partitions: 16,
            owned: vec![0, 5, 15],
            sequences: [(0, 12), (5, 0), (15, 99_000)].into_iter().collect(),
        };
        write(dir.path(), &held).unwrap();
        assert_eq!(read(dir.path()), Some(held));
        std::fs::write(marker(dir.path()), "receipts-jetstream-replica 1\np0=x\n").unwrap();
        assert_eq!(read(dir.path()), None);
        std::fs::write(marker(dir.path()), "receipts-jetstream-replica 2\n").unwrap();
        assert_eq!(read(dir.path()), None);
    }
}
