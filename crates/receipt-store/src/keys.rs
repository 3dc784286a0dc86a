//! Key layout of the ordered event keyspace (docs/storage.md). Snapshots are kept apart
//! (`Backend::put_snapshot`).
//!
//! | key | value |
//! | --- | --- |
//! | `c` + first position (u64 BE) | an event chunk record |
//! | `s` + stream key + first version (u64 BE) | a run of that stream inside a chunk: chunk position (u64 BE), offset (u32 BE), count (u32 BE) |
//! | `h` | the index watermark: stream runs and event ids exist for every chunk before this position (u64 BE) |
//! | `e` + event id (16 bytes) | where that event is: position (u64 BE), stream version (u64 BE) |
//! | `m` + message id (16 bytes) | the stream key of the message's conversation (layout 3) |
//! | `n` + command id (16 bytes) | a command accepted as a no-op (nothing to record): the head then (u64 BE) |
//! | `v` | the keyspace layout version (u64 BE; absent means layout 1, written before `e` and `n`) |
//! | `l` | the store tag its ledger carries (u32 BE, nonzero; absent in a store written before ledgers were bound, until its next open) |
//!
//! A stream's version is not stored: it is the end of its last run (first version + count - 1).
//! Big-endian numbers make key order equal numeric order. The stream key is the bincode encoding
//! of the stored conversation id: a tag then length-prefixed strings, so no stream key is a
//! prefix of another and a prefix scan sees exactly one stream.

use crate::codec::{self, Kind};
use crate::schema_v1::conversation_to_v1;
use receipt_domain::ConversationId;

pub(crate) const HEAD: &[u8] = b"h";
/// The store tag (u32 BE) that binds the ledger file to this keyspace (ledger.rs). Once it is
/// there, the store never opens without a ledger carrying the same tag.
pub(crate) const LEDGER_TAG: &[u8] = b"l";
/// The keyspace layout version (u64 BE). Absent in layout 1 (`c`, `s`, `h` only); layout 2 adds
/// the event-id index (`e`), no-op records (`n`) and the ledger file beside the keyspace.
pub(crate) const LAYOUT: &[u8] = b"v";
/// The layout this build writes. Layout 3 adds the message index (`m`), so a command naming
/// only a message finds its conversation's partition without any projection in memory.
pub(crate) const LAYOUT_VERSION: u64 = 3;
const EVENT: u8 = b'e';
const NOOP: u8 = b'n';
const MESSAGE: u8 = b'm';
const CHUNK: u8 = b'c';
const RUN: u8 = b's';

pub(crate) fn chunk(position: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(CHUNK);
    k.extend_from_slice(&position.to_be_bytes());
    k
}

/// The position in a chunk key, if it is one.
pub(crate) fn chunk_position(key: &[u8]) -> Option<u64> {
    match key {
        [CHUNK, rest @ ..] => Some(u64::from_be_bytes(rest.try_into().ok()?)),
        _ => None,
    }
}

pub(crate) fn event(id: receipt_domain::EventId) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(EVENT);
    k.extend_from_slice(id.0.as_bytes());
    k
}

pub(crate) fn message(id: receipt_domain::MessageId) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(MESSAGE);
    k.extend_from_slice(id.0.as_bytes());
    k
}

pub(crate) fn noop(id: receipt_domain::CommandId) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(NOOP);
    k.extend_from_slice(id.0.as_bytes());
    k
}

/// Where an event is: its global position and its version in its stream.
pub(crate) fn event_value(position: u64, version: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(16);
    v.extend_from_slice(&position.to_be_bytes());
    v.extend_from_slice(&version.to_be_bytes());
    v
}

pub(crate) fn parse_event_value(bytes: &[u8]) -> Option<(u64, u64)> {
    if bytes.len() != 16 {
        return None;
    }
    Some((parse_u64(&bytes[..8])?, parse_u64(&bytes[8..])?))
}

pub(crate) fn stream_key(conversation: &ConversationId) -> Vec<u8> {
    // Encoding a plain enum of strings into a Vec cannot fail.
    codec::encode(&conversation_to_v1(conversation), Kind::Record).unwrap_or_default()
}

/// The conversation a stream key names (the inverse of [`stream_key`]).
pub(crate) fn conversation_of_stream(stream: &[u8]) -> Result<ConversationId, String> {
    let stored = codec::decode(stream, Kind::Record)?;
    crate::schema_v1_upcast::conversation_from_v1(stored)
}

pub(crate) fn run_prefix(stream: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + stream.len() + 8);
    k.push(RUN);
    k.extend_from_slice(stream);
    k
}

pub(crate) fn run(stream: &[u8], first_version: u64) -> Vec<u8> {
    let mut k = run_prefix(stream);
    k.extend_from_slice(&first_version.to_be_bytes());
    k
}

pub(crate) fn run_first_version(key: &[u8]) -> Option<u64> {
    let at = key.len().checked_sub(8)?;
    Some(u64::from_be_bytes(key[at..].try_into().ok()?))
}

pub(crate) fn u64_value(v: u64) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

pub(crate) fn parse_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

pub(crate) fn parse_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

/// A stream run: where in which chunk a stream's events sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    pub chunk_position: u64,
    pub offset: u32,
    pub count: u32,
}

impl Run {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(&self.chunk_position.to_be_bytes());
        v.extend_from_slice(&self.offset.to_be_bytes());
        v.extend_from_slice(&self.count.to_be_bytes());
        v
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 16 {
            return None;
        }
        Some(Self {
            chunk_position: u64::from_be_bytes(bytes[0..8].try_into().ok()?),
            offset: u32::from_be_bytes(bytes[8..12].try_into().ok()?),
            count: u32::from_be_bytes(bytes[12..16].try_into().ok()?),
        })
    }
}
