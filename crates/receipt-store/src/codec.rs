//! The one frozen encoding of everything stored: bincode 2.0.1 through serde, standard
//! configuration (little-endian, variable-length integers). Changing any of this changes the
//! bytes on disk: it is part of the format (codec id 1), never to be edited, only superseded by a
//! new codec id.

use bincode::config::{Configuration, Limit, LittleEndian, Varint};
use serde::{de::DeserializeOwned, Serialize};

/// Codec id written in every record header for this encoding.
pub const CODEC_BINCODE2_STANDARD: u8 = 1;

/// Event chunks: a decode may allocate at most this much, whatever the bytes claim.
const RECORD_LIMIT_BYTES: usize = 64 << 20;
/// Snapshots hold the whole projection state, so they get a larger ceiling (same encoding).
const SNAPSHOT_LIMIT_BYTES: usize = 16 << 30;

const RECORD_CONFIG: Configuration<LittleEndian, Varint, Limit<RECORD_LIMIT_BYTES>> =
    bincode::config::standard()
        .with_little_endian()
        .with_variable_int_encoding()
        .with_limit::<RECORD_LIMIT_BYTES>();
const SNAPSHOT_CONFIG: Configuration<LittleEndian, Varint, Limit<SNAPSHOT_LIMIT_BYTES>> =
    bincode::config::standard()
        .with_little_endian()
        .with_variable_int_encoding()
        .with_limit::<SNAPSHOT_LIMIT_BYTES>();

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Record,
    Snapshot,
}

pub(crate) fn encode<T: Serialize>(value: &T, kind: Kind) -> Result<Vec<u8>, String> {
    match kind {
        Kind::Record => bincode::serde::encode_to_vec(value, RECORD_CONFIG),
        Kind::Snapshot => bincode::serde::encode_to_vec(value, SNAPSHOT_CONFIG),
    }
    .map_err(|e| e.to_string())
}

/// Decodes exactly `bytes`: trailing bytes are an error, not ignored.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], kind: Kind) -> Result<T, String> {
    // Stored ids are checked against the rules they were written under, not today's rules
    // for new ids (receipt_domain::ids): an old log stays readable.
    let (value, read) = receipt_domain::with_stored_rules(|| match kind {
        Kind::Record => bincode::serde::decode_from_slice(bytes, RECORD_CONFIG),
        Kind::Snapshot => bincode::serde::decode_from_slice(bytes, SNAPSHOT_CONFIG),
    })
    .map_err(|e| e.to_string())?;
    if read != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - read));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = encode(&(7u32, "x".to_string()), Kind::Record).unwrap();
        assert_eq!(decode::<(u32, String)>(&bytes, Kind::Record).unwrap().0, 7);
        bytes.push(0);
        assert!(decode::<(u32, String)>(&bytes, Kind::Record).is_err());
    }

    #[test]
    fn a_huge_claimed_length_is_refused_not_allocated() {
        // Varint 0xFD + u64: a string "of length" 2^60 bytes.
        let mut bytes = vec![0xFD];
        bytes.extend_from_slice(&(1u64 << 60).to_le_bytes());
        assert!(decode::<String>(&bytes, Kind::Record).is_err());
    }

    #[test]
    fn the_encoding_is_frozen() {
        // The bytes of a known value: if this changes, old logs can no longer be read.
        let bytes = encode(&(300u64, "ab".to_string(), true), Kind::Record).unwrap();
        assert_eq!(bytes, vec![0xFB, 0x2C, 0x01, 2, b'a', b'b', 1]);
    }
}
