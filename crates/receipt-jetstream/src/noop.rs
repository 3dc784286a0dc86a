//! The record of an accepted no-op: a command that changed nothing, remembered so a retry of it
//! gets the same answer after a reopening (the sled log keeps the same record beside its
//! events). One message on the partition's `noop` subject (a token no conversation's hex
//! subject can be), its payload frozen: format version 1, the command id's 16 bytes, and a
//! CRC-32 of those 17 bytes (little-endian).

use receipt_domain::CommandId;
use receipt_store::StoreError;
use uuid::Uuid;

/// The format version of a no-op record.
const NOOP_FORMAT: u8 = 1;
/// Bytes of a no-op record.
const NOOP_BYTES: usize = 1 + 16 + 4;

/// The last token of the no-op subject of every partition.
pub(crate) const NOOP_TOKEN: &str = "noop";

/// Partition `p`'s no-op subject.
pub(crate) fn noop_subject(prefix: &str, p: u32) -> String {
    format!("{prefix}.p{p}.{NOOP_TOKEN}")
}

/// The payload recording `command`.
pub(crate) fn encode_noop(command: CommandId) -> Vec<u8> {
    let mut out = Vec::with_capacity(NOOP_BYTES);
    out.push(NOOP_FORMAT);
    out.extend_from_slice(command.0.as_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The command a no-op record at partition sequence `sequence` names; damage is `Corrupt`.
pub(crate) fn decode_noop(payload: &[u8], sequence: u64) -> Result<CommandId, StoreError> {
    let bad = |why: &str| StoreError::corrupt(sequence, format!("no-op record: {why}"));
    if payload.len() != NOOP_BYTES {
        return Err(bad("wrong length"));
    }
    let (body, crc) = payload.split_at(17);
    if crc32fast::hash(body).to_le_bytes() != crc {
        return Err(bad("checksum mismatch"));
    }
    if body[0] != NOOP_FORMAT {
        return Err(bad("unknown format version"));
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&body[1..]);
    Ok(CommandId(Uuid::from_bytes(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_any_flipped_bit_is_damage() {
        let id = CommandId(Uuid::from_u128(0x0123_4567_89ab_cdef_0011_2233_4455_6677));
        let bytes = encode_noop(id);
        assert_eq!(decode_noop(&bytes, 9).unwrap(), id);
        for i in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[i / 8] ^= 1 << (i % 8);
            assert!(decode_noop(&damaged, 9).is_err(), "bit {i}");
        }
        assert!(decode_noop(&bytes[..20], 9).is_err());
    }

    /// The frozen bytes of version 1 (a change here breaks every stored log).
    #[test]
    fn the_format_is_frozen() {
        let id = CommandId(Uuid::from_u128(1));
        let bytes = encode_noop(id);
        assert_eq!(bytes[..17], [[1u8].as_slice(), &[0; 15], &[1]].concat()[..]);
        assert_eq!(bytes[17..], [104, 10, 78, 57]);
        assert_eq!(decode_noop(&bytes, 0).unwrap(), id);
    }
}
