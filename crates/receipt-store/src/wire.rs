//! The stored forms other logs reuse: the checksummed record of a decision's events (the same
//! bytes a sled chunk holds: header, schema v1 events, CRC32) and the stream key of a
//! conversation. A log on another engine (the JetStream log) stores these, so every log of the
//! project reads and verifies one format.

use crate::error::StoreError;
use receipt_domain::{ConversationId, Event};

/// The checksummed record of `events`, the first of which is at `position` (a global position
/// in a sled log; a stream version in a log that keeps one stream per conversation).
pub fn encode_record(position: u64, events: &[Event]) -> Result<Vec<u8>, StoreError> {
    crate::record::encode_chunk(position, events)
}

/// The events of a record said to start at `position`; any damage, or another position, is a
/// typed error.
pub fn decode_record(bytes: &[u8], position: u64) -> Result<Vec<Event>, StoreError> {
    crate::record::decode_chunk(bytes, position)
}

/// The bytes that name `conversation` in stored keys: the same conversation always gives the
/// same bytes, and no two conversations give the same.
pub fn stream_key(conversation: &ConversationId) -> Vec<u8> {
    crate::keys::stream_key(conversation)
}

/// The conversation a stream key names.
pub fn conversation_of_stream_key(key: &[u8]) -> Result<ConversationId, StoreError> {
    crate::keys::conversation_of_stream(key)
        .map_err(|e| StoreError::corrupt(0, format!("stream key: {e}")))
}
