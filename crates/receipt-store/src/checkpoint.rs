//! Checkpoints: per-conversation caches of the fold, written incrementally, never the truth.
//!
//! Keys of the checkpoint keyspace (`Backend::checkpoint_*`), each value a checksummed record
//! (record.rs, magic `RCKP`, layout [`CHECKPOINT_LAYOUT_VERSION`]):
//!
//! | key | record position | payload |
//! | --- | --- | --- |
//! | `G` | global position G | `HeldEarlyAcks` as of G: every header and summary is exact for events before G |
//! | `P` + stream key | the stream version it covers | the id of the stream's event at that version, and the partition's `State` |
//! | `H` + stream key | the stream version it is exact at | `ConversationHeader` |
//! | `U` + user key + stream key | 0 | `ReaderSummary` |
//! | `R` + user key | 0 | the user's roster: every conversation it has a `U` entry for, with that entry's CRC-32 |
//!
//! Every payload is bound (layout 8): it starts with the CRC-32 of the entry's own key and the
//! checkpoint's generation (a random id the marker carries, new at every full rebuild), so an
//! entry copied under another key, or left from another checkpoint, is never believed. A
//! header is exact at its stream version only, so it is believed only while the stream is
//! still there. A summary is believed only as its user's roster lists it (same CRC-32 of the
//! whole stored entry), so one deleted, or put back from an earlier checkpoint, is rebuilt
//! instead of dropping a conversation from a badge or showing an old unread count.
//!
//! The user key is the id's length (u32 BE) then its bytes, so no user key is a prefix of
//! another and a prefix scan sees exactly one user's summaries. A partition entry is always a
//! prefix of its stream (the state after its first `version` events), so it stays correct
//! whenever it was written; headers and summaries are written only together with the marker.
//! Anything that fails its checks is reported (`tracing::warn`) and rebuilt from the log.

use crate::backend::{Backend, Entry};
use crate::error::StoreError;
use crate::keys;
use crate::log::{lock, EventLog};
use crate::record::{decode_checkpoint, encode_checkpoint};
use crate::schema_v1::{conversation_to_v1, ConversationV1};
use receipt_domain::{
    ConversationHeader, ConversationId, HeldEarlyAcks, ReaderSummary, State, UserId,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use crate::record::CHECKPOINT_LAYOUT_VERSION;

pub(crate) const MARKER: &[u8] = b"G";
pub(crate) const PARTITION: u8 = b'P';
pub(crate) const HEADER: u8 = b'H';
pub(crate) const SUMMARY: u8 = b'U';
pub(crate) const ROSTER: u8 = b'R';

/// What one checkpoint writes, atomically.
#[derive(Debug, Default)]
pub struct CheckpointWrite {
    /// The marker's new position, if this write is a complete cut (headers and summaries exact
    /// for every event before it). Partition entries alone (an eviction) carry no marker.
    pub marker: Option<u64>,
    /// Partitions, each the state after its stream's first `events_applied()` events. Shared
    /// (`Arc`) so that taking a checkpoint copies pointers, not states: the engine copies a
    /// partition only if a command changes it while the write is in flight.
    pub partitions: Vec<(ConversationId, Arc<State>)>,
    /// Conversation headers, each with the stream version it is exact at (the number of its
    /// stream's events folded into it).
    pub headers: Vec<(ConversationId, ConversationHeader, u64)>,
    /// Per-(user, conversation) summaries.
    pub summaries: Vec<(UserId, ConversationId, ReaderSummary)>,
    /// The read acks held for messages not sent yet in the whole store, as of the marker
    /// (written with the marker only): what the store-wide bound is checked against.
    pub held_early_acks: HeldEarlyAcks,
    /// This write starts a new checkpoint generation (a full rebuild): every entry of earlier
    /// ones stops being believed once its marker is written.
    pub new_generation: bool,
}

/// A checkpoint marker: headers and summaries are exact for every event before `position`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marker {
    /// Events covered.
    pub position: u64,
    /// Read acks held for messages not sent yet after those events, by conversation.
    pub held_early_acks: HeldEarlyAcks,
}

/// What a checkpoint write cost.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointWritten {
    /// Entries written.
    pub entries: usize,
    /// Bytes of those entries (keys and values).
    pub bytes: u64,
}

/// A stored entry that could not be used: it is rebuilt from the log instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable(pub String);

/// The log's side of its checkpoints: the generation entries are bound to, and the lock that
/// keeps a roster's read-modify-write whole.
#[derive(Debug, Default)]
pub(crate) struct Checkpoints {
    /// The generation of the checkpoint being read and written (0: not known yet).
    pub(crate) generation: AtomicU64,
    writing: Mutex<()>,
}

/// A user's roster: every conversation the checkpoint holds a summary of the user in, with the
/// CRC-32 of that summary's stored entry.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Roster {
    #[serde(deserialize_with = "receipt_domain::bounded_serde::vec")]
    pub(crate) entries: Vec<RosterEntry>,
}

/// One summary a roster lists.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct RosterEntry {
    pub(crate) conversation: ConversationV1,
    pub(crate) summary_crc: u32,
}

/// A roster as the code uses it: stream key to the CRC-32 of the summary's stored entry.
pub(crate) type RosterMap = BTreeMap<Vec<u8>, u32>;

impl Roster {
    /// Its entries by stream key.
    pub(crate) fn streams(self) -> Result<RosterMap, String> {
        self.entries
            .into_iter()
            .map(|e| {
                crate::schema_v1_upcast::conversation_from_v1(e.conversation)
                    .map(|c| (keys::stream_key(&c), e.summary_crc))
            })
            .collect()
    }
}

pub(crate) fn user_key(tag: u8, user: &UserId) -> Vec<u8> {
    let id = user.as_str().as_bytes();
    // Ids are at most `MAX_ID_BYTES` long, far below u32::MAX.
    let len = u32::try_from(id.len()).unwrap_or(u32::MAX);
    let mut k = Vec::with_capacity(5 + id.len());
    k.push(tag);
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(id);
    k
}

pub(crate) fn keyed(tag: u8, conversation: &ConversationId) -> Vec<u8> {
    let stream = keys::stream_key(conversation);
    let mut k = Vec::with_capacity(1 + stream.len());
    k.push(tag);
    k.extend_from_slice(&stream);
    k
}

pub(crate) fn summary_key(user: &UserId, conversation: &ConversationId) -> Vec<u8> {
    let mut k = user_key(SUMMARY, user);
    k.extend_from_slice(&keys::stream_key(conversation));
    k
}

/// Encodes `value` bound to `key` and `generation`.
fn bound<T: serde::Serialize>(
    key: &[u8],
    generation: u64,
    position: u64,
    value: &T,
) -> Result<Vec<u8>, StoreError> {
    encode_checkpoint(position, &(crc32fast::hash(key), generation, value))
}

/// Decodes an entry stored under `key`: its position, generation and value, unless it fails
/// its checksum, its layout or its key binding.
pub(crate) fn unbind<T: serde::de::DeserializeOwned>(
    key: &[u8],
    bytes: &[u8],
) -> Result<(u64, u64, T), String> {
    let (position, (key_crc, generation, value)) = decode_checkpoint::<(u32, u64, T)>(bytes)?;
    if key_crc != crc32fast::hash(key) {
        return Err("it was stored under another key".into());
    }
    Ok((position, generation, value))
}

/// What a roster lists of a stored entry: the CRC-32 its record ends with (over everything
/// before it). Not a CRC over the whole record: that of any record ending in its own CRC-32 is
/// the same constant.
pub(crate) fn entry_crc(record: &[u8]) -> u32 {
    let mut last = [0u8; 4];
    if let Some(tail) = record.len().checked_sub(4).and_then(|at| record.get(at..)) {
        last.copy_from_slice(tail);
    }
    u32::from_le_bytes(last)
}

/// A fresh generation: random (the random bits of a v7 UUID), never 0, which means "none".
fn new_generation() -> u64 {
    let bytes = uuid::Uuid::now_v7().into_bytes();
    let mut low = [0u8; 8];
    low.copy_from_slice(&bytes[8..16]);
    u64::from_le_bytes(low).max(1)
}

impl<B: Backend> EventLog<B> {
    /// Writes checkpoint entries in one atomic batch, each bound to its key and to the
    /// checkpoint's generation, with the rosters of the users whose summaries it writes. Not
    /// flushed here: the entries share sled's log with the events, so an entry that survives
    /// a crash was written after the events it covers, and those survive too.
    pub fn write_checkpoint(&self, w: &CheckpointWrite) -> Result<CheckpointWritten, StoreError> {
        self.refuse_writes()?;
        let _writing = lock(&self.checkpoints.writing);
        let generation = match self.checkpoints.generation.load(Ordering::SeqCst) {
            g if g == 0 || w.new_generation => new_generation(),
            g => g,
        };
        let mut puts: Vec<Entry> =
            Vec::with_capacity(w.partitions.len() + w.headers.len() + w.summaries.len() + 1);
        for (conversation, state) in &w.partitions {
            let key = keyed(PARTITION, conversation);
            let version = state.events_applied();
            // Bound to the id of its stream's event at `version`: after a crash that lost
            // events it covers, the stream's later events never make it look current.
            let last = self.event_id_at(conversation, version)?;
            let value = bound(&key, generation, version, &(last, &**state))?;
            puts.push((key, value));
        }
        for (conversation, header, version) in &w.headers {
            let key = keyed(HEADER, conversation);
            let value = bound(&key, generation, *version, header)?;
            puts.push((key, value));
        }
        let mut summary_crcs: Vec<(&UserId, Vec<u8>, u32)> = Vec::with_capacity(w.summaries.len());
        for (user, conversation, summary) in &w.summaries {
            let key = summary_key(user, conversation);
            let value = bound(&key, generation, 0, summary)?;
            summary_crcs.push((user, keys::stream_key(conversation), entry_crc(&value)));
            puts.push((key, value));
        }
        self.updated_rosters(summary_crcs, generation, &mut puts)?;
        if let Some(position) = w.marker {
            let value = bound(MARKER, generation, position, &w.held_early_acks)?;
            puts.push((MARKER.to_vec(), value));
        }
        let written = CheckpointWritten {
            entries: puts.len(),
            bytes: puts.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum(),
        };
        self.backend.checkpoint_write(puts)?;
        self.checkpoints
            .generation
            .store(generation, Ordering::SeqCst);
        Ok(written)
    }

    /// The roster of each user a write holds summaries of (with the CRC-32 of each summary's
    /// new entry): the stored roster (or, when there is none this generation, one made from
    /// the user's stored summaries) with those summaries set. Summaries are never removed, so
    /// neither are roster entries.
    fn updated_rosters(
        &self,
        mut written: Vec<(&UserId, Vec<u8>, u32)>,
        generation: u64,
        puts: &mut Vec<Entry>,
    ) -> Result<(), StoreError> {
        written.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut rest = written.as_slice();
        while let Some((user, _, _)) = rest.first() {
            let n = rest.iter().take_while(|(u, _, _)| u == user).count();
            let (mine, later) = rest.split_at(n);
            rest = later;
            let key = user_key(ROSTER, user);
            let mut roster = match self.stored_roster(&key, generation)? {
                Some(roster) => roster,
                None => self.summary_crcs(user)?,
            };
            for (_, stream, crc) in mine {
                roster.insert(stream.clone(), *crc);
            }
            let stored = Roster {
                entries: roster
                    .iter()
                    .map(|(stream, crc)| {
                        keys::conversation_of_stream(stream).map(|c| RosterEntry {
                            conversation: conversation_to_v1(&c),
                            summary_crc: *crc,
                        })
                    })
                    .collect::<Result<_, _>>()
                    .map_err(|e| StoreError::corrupt(0, format!("roster of {user}: {e}")))?,
            };
            let value = bound(&key, generation, 0, &stored)?;
            puts.push((key, value));
        }
        Ok(())
    }

    /// The id (as a number) of `conversation`'s event at `version` (0 for version 0).
    pub(crate) fn event_id_at(
        &self,
        conversation: &ConversationId,
        version: u64,
    ) -> Result<u128, StoreError> {
        if version == 0 {
            return Ok(0);
        }
        Ok(self
            .read_stream(conversation, version, 1)?
            .first()
            .map_or(0, |e| e.event.id.0.as_u128()))
    }

    /// A stored roster of this generation (`None`: none usable).
    fn stored_roster(&self, key: &[u8], generation: u64) -> Result<Option<RosterMap>, StoreError> {
        let Ok(Some(bytes)) = self.backend.checkpoint_get(key) else {
            return Ok(None);
        };
        Ok(match unbind::<Roster>(key, &bytes) {
            Ok((_, g, roster)) if g == generation => roster.streams().ok(),
            _ => None,
        })
    }

    /// A roster of every summary stored for `user` (whatever its generation: one of another
    /// is refused when it is read, by its own check).
    fn summary_crcs(&self, user: &UserId) -> Result<RosterMap, StoreError> {
        let prefix = user_key(SUMMARY, user);
        let mut end = prefix.clone();
        end.extend_from_slice(&[0xFF; 9]);
        let mut out = RosterMap::new();
        for item in self.backend.checkpoint_range(&prefix, &end) {
            // An unreadable entry is one the roster cannot vouch for either.
            let Ok((k, v)) = item else { continue };
            out.insert(k[prefix.len()..].to_vec(), entry_crc(&v));
        }
        Ok(out)
    }
}
