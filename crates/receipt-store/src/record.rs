//! The self-describing record envelope (byte layout in docs/storage.md).
//!
//! ```text
//! offset  size  field
//!      0     4  magic: "RCPT" (event chunk) or "RSNP" (snapshot)
//!      4     1  format version (1)
//!      5     1  codec id (1 = bincode 2.0.1 standard, see codec.rs)
//!      6     2  schema version, u16 little-endian
//!      8     8  position, u64 LE: first event of a chunk / events covered by a snapshot
//!     16     4  event count, u32 LE (0 for a snapshot)
//!     20     4  payload length n, u32 LE
//!     24     n  payload
//!   24+n     4  CRC-32 (IEEE) of bytes [0, 24+n), LE
//! ```
//! The checksum is verified before anything else is believed, so a flipped bit anywhere is
//! reported as corruption at the record's position, never decoded into garbage.

use crate::codec::{self, Kind, CODEC_BINCODE2_STANDARD};
use crate::error::StoreError;
use crate::schema_v1::{self, EventV1};
use receipt_domain::{Event, State};

/// The record envelope's version, written into every record.
pub const FORMAT_VERSION: u8 = 1;
const CHUNK_MAGIC: &[u8; 4] = b"RCPT";
const SNAPSHOT_MAGIC: &[u8; 4] = b"RSNP";
const CHECKPOINT_MAGIC: &[u8; 4] = b"RCKP";
const HEADER_BYTES: usize = 24;
const CRC_BYTES: usize = 4;

/// Version of the checkpoint entries' layout (checkpoint.rs): the payload types and what the
/// header's position means for each. Bump it whenever `State`, `ReaderSummary`,
/// `ConversationHeader` or the marker's payload change shape: older entries are then rebuilt
/// from the log, never misread. Layout 6: the marker holds the read acks held store-wide;
/// layout 7: threads in `State`, thread counts in `ReaderSummary` and `ConversationHeader`;
/// layout 8: every payload bound to its key's CRC-32 and the checkpoint's generation, headers
/// at their stream version, and a roster per user.
pub const CHECKPOINT_LAYOUT_VERSION: u16 = 8;

/// Version of the projection state layout inside snapshots. Bump it whenever `State` changes
/// shape: older snapshots are then ignored (full replay), never misread.
pub const SNAPSHOT_STATE_VERSION: u16 = 6;

struct Header {
    magic: [u8; 4],
    format_version: u8,
    codec_id: u8,
    schema_version: u16,
    position: u64,
    count: u32,
}

fn write(header: &Header, payload: &[u8]) -> Result<Vec<u8>, StoreError> {
    let len = u32::try_from(payload.len()).map_err(|_| {
        StoreError::io_kind(
            "record",
            std::io::ErrorKind::InvalidInput,
            &format!("a payload of {} bytes is too large", payload.len()),
        )
    })?;
    let mut out = Vec::with_capacity(HEADER_BYTES + payload.len() + CRC_BYTES);
    out.extend_from_slice(&header.magic);
    out.push(header.format_version);
    out.push(header.codec_id);
    out.extend_from_slice(&header.schema_version.to_le_bytes());
    out.extend_from_slice(&header.position.to_le_bytes());
    out.extend_from_slice(&header.count.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

fn le<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&bytes[at..at + N]);
    a
}

/// Checks length, checksum, magic and versions; returns the header and the payload.
fn read<'a>(
    bytes: &'a [u8],
    magic: &[u8; 4],
    position: u64,
) -> Result<(Header, &'a [u8]), StoreError> {
    if bytes.len() < HEADER_BYTES + CRC_BYTES {
        return Err(StoreError::corrupt(
            position,
            format!("record of {} bytes is shorter than its header", bytes.len()),
        ));
    }
    let body_end = bytes.len() - CRC_BYTES;
    let stored_crc = u32::from_le_bytes(le(bytes, body_end));
    if crc32fast::hash(&bytes[..body_end]) != stored_crc {
        return Err(StoreError::corrupt(position, "checksum mismatch"));
    }
    let header = Header {
        magic: le(bytes, 0),
        format_version: bytes[4],
        codec_id: bytes[5],
        schema_version: u16::from_le_bytes(le(bytes, 6)),
        position: u64::from_le_bytes(le(bytes, 8)),
        count: u32::from_le_bytes(le(bytes, 16)),
    };
    if &header.magic != magic {
        return Err(StoreError::corrupt(position, "bad magic"));
    }
    let len = u32::from_le_bytes(le(bytes, 20)) as usize;
    if HEADER_BYTES + len != body_end {
        return Err(StoreError::corrupt(
            position,
            "payload length disagrees with record size",
        ));
    }
    Ok((header, &bytes[HEADER_BYTES..body_end]))
}

/// A chunk's events as stored: the bytes of a `Vec<EventV1>`, decoded without preallocating
/// from the claimed length (see `receipt_domain::bounded_serde`).
struct StoredEvents(Vec<EventV1>);

impl<'de> serde::Deserialize<'de> for StoredEvents {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        receipt_domain::bounded_serde::vec(d).map(StoredEvents)
    }
}

/// Encodes a chunk of consecutive events starting at global position `first_position`.
pub(crate) fn encode_chunk(first_position: u64, events: &[Event]) -> Result<Vec<u8>, StoreError> {
    let stored = events
        .iter()
        .map(schema_v1::event_to_v1)
        .collect::<Result<Vec<EventV1>, _>>()?;
    let payload = codec::encode(&stored, Kind::Record)
        .map_err(|e| StoreError::io_kind("encoding", std::io::ErrorKind::InvalidData, &e))?;
    let count = u32::try_from(events.len()).map_err(|_| {
        StoreError::io_kind("chunk", std::io::ErrorKind::InvalidInput, "too many events")
    })?;
    write(
        &Header {
            magic: *CHUNK_MAGIC,
            format_version: FORMAT_VERSION,
            codec_id: CODEC_BINCODE2_STANDARD,
            schema_version: schema_v1::SCHEMA_VERSION,
            position: first_position,
            count,
        },
        &payload,
    )
}

/// Decodes a chunk stored under key `position`; every way it can be wrong is a typed error.
pub(crate) fn decode_chunk(bytes: &[u8], position: u64) -> Result<Vec<Event>, StoreError> {
    let (h, payload) = read(bytes, CHUNK_MAGIC, position)?;
    if h.format_version != FORMAT_VERSION
        || h.codec_id != CODEC_BINCODE2_STANDARD
        || h.schema_version != schema_v1::SCHEMA_VERSION
    {
        return Err(StoreError::UnsupportedFormat {
            position,
            format_version: h.format_version,
            codec_id: h.codec_id,
            schema_version: h.schema_version,
        });
    }
    if h.position != position {
        return Err(StoreError::corrupt(
            position,
            format!("record says position {}", h.position),
        ));
    }
    let StoredEvents(stored) =
        codec::decode(payload, Kind::Record).map_err(|e| StoreError::corrupt(position, e))?;
    if stored.len() != h.count as usize || stored.is_empty() {
        return Err(StoreError::corrupt(
            position,
            "event count disagrees with header",
        ));
    }
    stored
        .into_iter()
        .map(|e| {
            crate::schema_v1_upcast::event_from_v1(e).map_err(|e| StoreError::corrupt(position, e))
        })
        .collect()
}

/// Encodes a snapshot of the projections covering events `[0, position)`.
pub(crate) fn encode_snapshot(position: u64, state: &State) -> Result<Vec<u8>, StoreError> {
    let payload = codec::encode(state, Kind::Snapshot)
        .map_err(|e| StoreError::io_kind("encoding", std::io::ErrorKind::InvalidData, &e))?;
    write(
        &Header {
            magic: *SNAPSHOT_MAGIC,
            format_version: FORMAT_VERSION,
            codec_id: CODEC_BINCODE2_STANDARD,
            schema_version: SNAPSHOT_STATE_VERSION,
            position,
            count: 0,
        },
        &payload,
    )
}

/// Decodes a snapshot and checks the state's invariants: `Err` means "do not use it".
pub(crate) fn decode_snapshot(bytes: &[u8]) -> Result<(u64, State), String> {
    let (h, payload) = read(bytes, SNAPSHOT_MAGIC, 0).map_err(|e| e.to_string())?;
    if h.format_version != FORMAT_VERSION
        || h.codec_id != CODEC_BINCODE2_STANDARD
        || h.schema_version != SNAPSHOT_STATE_VERSION
    {
        return Err(format!(
            "snapshot format {}, codec {}, state version {} is not this build's",
            h.format_version, h.codec_id, h.schema_version
        ));
    }
    let state: State = codec::decode(payload, Kind::Snapshot)?;
    state.check_invariants().map_err(|e| e.to_string())?;
    Ok((h.position, state))
}

/// Encodes a checkpoint entry: `position` is what the entry covers (a stream version for a
/// partition, a global position for the marker).
pub(crate) fn encode_checkpoint<T: serde::Serialize>(
    position: u64,
    value: &T,
) -> Result<Vec<u8>, StoreError> {
    let payload = codec::encode(value, Kind::Snapshot)
        .map_err(|e| StoreError::io_kind("encoding", std::io::ErrorKind::InvalidData, &e))?;
    write(
        &Header {
            magic: *CHECKPOINT_MAGIC,
            format_version: FORMAT_VERSION,
            codec_id: CODEC_BINCODE2_STANDARD,
            schema_version: CHECKPOINT_LAYOUT_VERSION,
            position,
            count: 0,
        },
        &payload,
    )
}

/// Decodes a checkpoint entry: `Err` says why it must not be used (damage, another layout).
/// The layout of a checkpoint entry whose header and checksum are sound (whatever its layout).
pub(crate) fn checkpoint_layout(bytes: &[u8]) -> Result<u16, String> {
    let (h, _) = read(bytes, CHECKPOINT_MAGIC, 0).map_err(|e| e.to_string())?;
    Ok(h.schema_version)
}

pub(crate) fn decode_checkpoint<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> Result<(u64, T), String> {
    let (h, payload) = read(bytes, CHECKPOINT_MAGIC, 0).map_err(|e| e.to_string())?;
    if h.format_version != FORMAT_VERSION
        || h.codec_id != CODEC_BINCODE2_STANDARD
        || h.schema_version != CHECKPOINT_LAYOUT_VERSION
    {
        return Err(format!(
            "checkpoint format {}, codec {}, layout {} is not this build's",
            h.format_version, h.codec_id, h.schema_version
        ));
    }
    Ok((h.position, codec::decode(payload, Kind::Snapshot)?))
}
