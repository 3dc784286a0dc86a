//! The acknowledgement ledger: an independent, durable record of what the log acknowledged.
//!
//! The event keyspace can be damaged in ways that look healthy (sled treats a damaged record as
//! a torn tail and drops everything after it). The ledger lives outside that keyspace (a file of
//! its own on sled) and is synced after the events it covers, so an open or a verify that finds
//! fewer events, or different ones, than were acknowledged can tell, and refuses.
//!
//! The file holds two fixed-size slots written alternately, so a torn write of one slot leaves
//! the other intact; the valid slot with the higher sequence number wins.
//!
//! ```text
//! offset  size  field (all little-endian)
//!      0     4  magic "RLDG"
//!      4     1  ledger format version (1 or 2)
//!      5     3  zero
//!      8     8  sequence number of this write (grows by one per write)
//!     16     8  head: every event before this position was acknowledged as durable
//!     24     4  chain: running CRC-32 of every chunk record in [0, head), in position order
//!     28     8  position of the last chunk before head (0 when head is 0)
//!     36     4  CRC-32 of that chunk's record
//!     40     4  version 2: the store tag (nonzero; the keyspace holds the same tag under `l`);
//!               version 1: zero (a ledger written before ledgers were bound to their store)
//!     44     4  CRC-32 of bytes [0, 44)
//! ```
//!
//! The store tag binds a ledger to its keyspace: another store's ledger copied in is refused
//! by name instead of failing a chain check with a puzzling position, and a keyspace that has
//! a tag refuses to open without its ledger (a deleted ledger would otherwise be recreated from
//! whatever the keyspace holds, and a loss after it would go unnoticed).

/// Bytes of one slot; the file is two slots.
pub(crate) const SLOT_BYTES: usize = 48;
/// Bytes of the whole ledger file.
pub(crate) const FILE_BYTES: usize = 2 * SLOT_BYTES;
const MAGIC: &[u8; 4] = b"RLDG";
/// The version this build writes; version 1 (no store tag) is still read.
const LEDGER_VERSION: u8 = 2;

/// What the log had acknowledged as durable at one commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Mark {
    pub seq: u64,
    pub head: u64,
    pub chain: u32,
    pub last_chunk_position: u64,
    pub last_chunk_crc: u32,
    /// The store this ledger belongs to (0: a version-1 ledger, bound to none).
    pub store_tag: u32,
}

impl Mark {
    /// The slot this mark is written to: alternate, so the previous one survives a torn write.
    pub(crate) fn slot(&self) -> usize {
        (self.seq % 2) as usize
    }

    pub(crate) fn encode(&self) -> [u8; SLOT_BYTES] {
        let mut b = [0u8; SLOT_BYTES];
        b[0..4].copy_from_slice(MAGIC);
        // A mark bound to no store keeps version 1's form (never written once a store is bound).
        b[4] = if self.store_tag == 0 {
            1
        } else {
            LEDGER_VERSION
        };
        b[8..16].copy_from_slice(&self.seq.to_le_bytes());
        b[16..24].copy_from_slice(&self.head.to_le_bytes());
        b[24..28].copy_from_slice(&self.chain.to_le_bytes());
        b[28..36].copy_from_slice(&self.last_chunk_position.to_le_bytes());
        b[36..40].copy_from_slice(&self.last_chunk_crc.to_le_bytes());
        b[40..44].copy_from_slice(&self.store_tag.to_le_bytes());
        let crc = crc32fast::hash(&b[..44]);
        b[44..48].copy_from_slice(&crc.to_le_bytes());
        b
    }

    fn decode_slot(b: &[u8]) -> Option<Self> {
        let b: &[u8; SLOT_BYTES] = b.try_into().ok()?;
        let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]));
        let u32_at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]));
        if &b[0..4] != MAGIC || !(1..=LEDGER_VERSION).contains(&b[4]) {
            return None;
        }
        if crc32fast::hash(&b[..44]) != u32_at(44) {
            return None;
        }
        // Version 1 kept bytes 40..44 zero; a version-2 slot always names its store.
        let store_tag = u32_at(40);
        if (b[4] == 1) != (store_tag == 0) {
            return None;
        }
        Some(Self {
            seq: u64_at(8),
            head: u64_at(16),
            chain: u32_at(24),
            last_chunk_position: u64_at(28),
            last_chunk_crc: u32_at(36),
            store_tag,
        })
    }

    /// The newest valid mark of a ledger file, or why there is none.
    pub(crate) fn newest(file: &[u8]) -> Result<Self, String> {
        if file.len() != FILE_BYTES {
            return Err(format!(
                "ledger is {} bytes long, expected {FILE_BYTES}",
                file.len()
            ));
        }
        let a = Self::decode_slot(&file[..SLOT_BYTES]);
        let b = Self::decode_slot(&file[SLOT_BYTES..]);
        match (a, b) {
            (Some(a), Some(b)) => Ok(if a.seq >= b.seq { a } else { b }),
            (Some(m), None) | (None, Some(m)) => Ok(m),
            (None, None) => Err("neither ledger slot is valid".into()),
        }
    }

    /// A ledger file holding only this mark (the other slot invalid until first overwritten).
    pub(crate) fn initial_file(&self) -> [u8; FILE_BYTES] {
        let mut f = [0u8; FILE_BYTES];
        let at = self.slot() * SLOT_BYTES;
        f[at..at + SLOT_BYTES].copy_from_slice(&self.encode());
        f
    }
}

/// Extends a running chain over one chunk record.
pub(crate) fn chain(previous: u32, record: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(previous);
    h.update(record);
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(seq: u64) -> Mark {
        Mark {
            seq,
            head: 10 * seq,
            chain: 7,
            last_chunk_position: 3,
            last_chunk_crc: 9,
            store_tag: 0x5eed,
        }
    }

    #[test]
    fn a_version_1_slot_reads_as_bound_to_no_store() {
        // A version-1 slot as that build wrote it: bytes 40..44 zero.
        let mut b = mark(3).encode();
        b[4] = 1;
        b[40..44].fill(0);
        let crc = crc32fast::hash(&b[..44]);
        b[44..48].copy_from_slice(&crc.to_le_bytes());
        let mut file = [0u8; FILE_BYTES];
        file[SLOT_BYTES..].copy_from_slice(&b);
        let read = Mark::newest(&file).unwrap();
        assert_eq!(
            read,
            Mark {
                store_tag: 0,
                ..mark(3)
            }
        );
        // Version 2 without a tag, or version 1 with one, is no slot this code wrote.
        b[4] = 2;
        let crc = crc32fast::hash(&b[..44]);
        b[44..48].copy_from_slice(&crc.to_le_bytes());
        file[SLOT_BYTES..].copy_from_slice(&b);
        assert!(Mark::newest(&file).is_err());
    }

    #[test]
    fn the_newest_valid_slot_wins_and_a_torn_slot_falls_back() {
        let mut file = mark(4).initial_file();
        let five = mark(5);
        file[five.slot() * SLOT_BYTES..][..SLOT_BYTES].copy_from_slice(&five.encode());
        assert_eq!(Mark::newest(&file).unwrap(), five);
        file[SLOT_BYTES + 20] ^= 1; // slot 1 holds seq 5
        assert_eq!(Mark::newest(&file).unwrap(), mark(4));
        file[3] ^= 1;
        assert!(Mark::newest(&file).is_err());
        assert!(Mark::newest(&file[..50]).is_err());
    }

    #[test]
    fn the_chain_depends_on_every_record_and_their_order() {
        let ab = chain(chain(0, b"a"), b"b");
        assert_ne!(ab, chain(chain(0, b"b"), b"a"));
        assert_ne!(ab, chain(0, b"a"));
    }
}
