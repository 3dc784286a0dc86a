//! Checkpoints: per-conversation caches of the fold, written incrementally, never the truth.
//!
//! Keys of the checkpoint keyspace (`Backend::checkpoint_*`), each value a checksummed record
//! (record.rs, magic `RCKP`, layout [`CHECKPOINT_LAYOUT_VERSION`]):
//!
//! | key | record position | payload |
//! | --- | --- | --- |
//! | `G` | global position G | `HeldEarlyAcks` as of G: every header and summary is exact for events before G |
//! | `P` + stream key | the stream version it covers | the partition's `State` |
//! | `H` + stream key | 0 | `ConversationHeader` |
//! | `U` + user key + stream key | 0 | `ReaderSummary` |
//!
//! The user key is the id's length (u32 BE) then its bytes, so no user key is a prefix of
//! another and a prefix scan sees exactly one user's summaries. A partition entry is always a
//! prefix of its stream (the state after its first `version` events), so it stays correct
//! whenever it was written; headers and summaries are written only together with the marker.
//! Anything that fails its checks is reported (`tracing::warn`) and rebuilt from the log.

use crate::backend::{Backend, Entry};
use crate::error::StoreError;
use crate::keys;
use crate::log::EventLog;
use crate::record::{decode_checkpoint, encode_checkpoint};
use receipt_domain::{
    ConversationHeader, ConversationId, HeldEarlyAcks, ReaderSummary, State, UserId,
};
use std::sync::Arc;

pub use crate::record::CHECKPOINT_LAYOUT_VERSION;

pub(crate) const MARKER: &[u8] = b"G";
pub(crate) const PARTITION: u8 = b'P';
pub(crate) const HEADER: u8 = b'H';
pub(crate) const SUMMARY: u8 = b'U';

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
    /// Conversation headers.
    pub headers: Vec<(ConversationId, ConversationHeader)>,
    /// Per-(user, conversation) summaries.
    pub summaries: Vec<(UserId, ConversationId, ReaderSummary)>,
    /// The read acks held for messages not sent yet in the whole store, as of the marker
    /// (written with the marker only): what the store-wide bound is checked against.
    pub held_early_acks: HeldEarlyAcks,
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

fn user_key(user: &UserId) -> Vec<u8> {
    let id = user.as_str().as_bytes();
    // Ids are at most `MAX_ID_BYTES` long, far below u32::MAX.
    let len = u32::try_from(id.len()).unwrap_or(u32::MAX);
    let mut k = Vec::with_capacity(5 + id.len());
    k.push(SUMMARY);
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(id);
    k
}

fn keyed(tag: u8, conversation: &ConversationId) -> Vec<u8> {
    let stream = keys::stream_key(conversation);
    let mut k = Vec::with_capacity(1 + stream.len());
    k.push(tag);
    k.extend_from_slice(&stream);
    k
}

fn summary_key(user: &UserId, conversation: &ConversationId) -> Vec<u8> {
    let mut k = user_key(user);
    k.extend_from_slice(&keys::stream_key(conversation));
    k
}

impl<B: Backend> EventLog<B> {
    /// Writes checkpoint entries in one atomic batch. Not flushed here: the entries share
    /// sled's log with the events, so an entry that survives a crash was written after the
    /// events it covers, and those survive too.
    pub fn write_checkpoint(&self, w: &CheckpointWrite) -> Result<CheckpointWritten, StoreError> {
        let mut puts: Vec<Entry> =
            Vec::with_capacity(w.partitions.len() + w.headers.len() + w.summaries.len() + 1);
        for (conversation, state) in &w.partitions {
            puts.push((
                keyed(PARTITION, conversation),
                encode_checkpoint(state.events_applied(), &**state)?,
            ));
        }
        for (conversation, header) in &w.headers {
            puts.push((keyed(HEADER, conversation), encode_checkpoint(0, header)?));
        }
        for (user, conversation, summary) in &w.summaries {
            puts.push((
                summary_key(user, conversation),
                encode_checkpoint(0, summary)?,
            ));
        }
        if let Some(position) = w.marker {
            puts.push((
                MARKER.to_vec(),
                encode_checkpoint(position, &w.held_early_acks)?,
            ));
        }
        let written = CheckpointWritten {
            entries: puts.len(),
            bytes: puts.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum(),
        };
        self.backend.checkpoint_write(puts)?;
        Ok(written)
    }

    /// The marker's position: headers and summaries are exact for every event before it.
    /// `Ok(None)` when there is none; `Err(Unusable)` when it cannot be trusted (damaged,
    /// another layout, or ahead of the log), in which case nothing but partition entries may
    /// be used.
    pub fn checkpoint_marker(&self) -> Result<Result<Option<u64>, Unusable>, StoreError> {
        Ok(self
            .checkpoint_mark()?
            .map(|marker| marker.map(|m| m.position)))
    }

    /// The whole marker: its position and the read acks held as of it. `Ok(None)` and
    /// `Err(Unusable)` as for [`EventLog::checkpoint_marker`].
    pub fn checkpoint_mark(&self) -> Result<Result<Option<Marker>, Unusable>, StoreError> {
        let Some(bytes) = self.backend.checkpoint_get(MARKER)? else {
            return Ok(Ok(None));
        };
        Ok(match decode_checkpoint::<HeldEarlyAcks>(&bytes) {
            Ok((position, held_early_acks)) if position <= self.head() => Ok(Some(Marker {
                position,
                held_early_acks,
            })),
            Ok((position, _)) => Err(Unusable(format!(
                "checkpoint marker at {position} is ahead of the log's {} events",
                self.head()
            ))),
            Err(reason) => Err(Unusable(format!("checkpoint marker: {reason}"))),
        })
    }

    /// The checkpointed partition of `conversation` (the state after its stream's first
    /// `events_applied()` events), if one is stored and passes every check.
    pub fn load_partition(
        &self,
        conversation: &ConversationId,
    ) -> Result<Option<Result<State, Unusable>>, StoreError> {
        let Some(bytes) = self
            .backend
            .checkpoint_get(&keyed(PARTITION, conversation))?
        else {
            return Ok(None);
        };
        let checked = match decode_checkpoint::<State>(&bytes) {
            Err(reason) => Err(reason),
            Ok((version, state)) => self.check_partition(conversation, version, state),
        };
        Ok(Some(checked.map_err(|reason| {
            Unusable(format!("checkpoint of {conversation}: {reason}"))
        })))
    }

    fn check_partition(
        &self,
        conversation: &ConversationId,
        version: u64,
        state: State,
    ) -> Result<State, String> {
        if state.events_applied() != version {
            return Err(format!(
                "covers {version} events but holds {}",
                state.events_applied()
            ));
        }
        if let Some(other) = state.conversation_ids().find(|c| *c != conversation) {
            return Err(format!("holds another conversation ({other})"));
        }
        let stored = self
            .version(conversation)
            .map_err(|e| format!("stream version unreadable: {e}"))?;
        if version > stored {
            return Err(format!("covers {version} events, the stream has {stored}"));
        }
        state.check_invariants().map_err(|e| e.to_string())?;
        Ok(state)
    }

    /// The checkpointed header of `conversation`.
    pub fn load_header(
        &self,
        conversation: &ConversationId,
    ) -> Result<Option<Result<ConversationHeader, Unusable>>, StoreError> {
        let bytes = self.backend.checkpoint_get(&keyed(HEADER, conversation))?;
        Ok(bytes.map(|b| {
            decode_checkpoint::<ConversationHeader>(&b)
                .map(|(_, h)| h)
                .map_err(|reason| Unusable(format!("header of {conversation}: {reason}")))
        }))
    }

    /// The checkpointed summary of `user` in `conversation`.
    pub fn load_summary(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<Option<Result<ReaderSummary, Unusable>>, StoreError> {
        let bytes = self
            .backend
            .checkpoint_get(&summary_key(user, conversation))?;
        Ok(bytes.map(|b| {
            decode_checkpoint::<ReaderSummary>(&b)
                .map(|(_, s)| s)
                .map_err(|reason| {
                    Unusable(format!("summary of {user} in {conversation}: {reason}"))
                })
        }))
    }

    /// Every checkpointed summary of `user`, by conversation; an entry that fails its checks
    /// comes back as `Err` with its conversation, for the caller to rebuild.
    #[allow(clippy::type_complexity)]
    pub fn load_user_summaries(
        &self,
        user: &UserId,
    ) -> Result<Vec<(ConversationId, Result<ReaderSummary, Unusable>)>, StoreError> {
        let prefix = user_key(user);
        let mut end = prefix.clone();
        end.extend_from_slice(&[0xFF; 9]);
        let mut out = Vec::new();
        for item in self.backend.checkpoint_range(&prefix, &end) {
            let (k, v) = item?;
            let conversation = keys::conversation_of_stream(&k[prefix.len()..]).map_err(|e| {
                StoreError::corrupt(0, format!("checkpoint summary key of {user}: {e}"))
            })?;
            let summary = decode_checkpoint::<ReaderSummary>(&v)
                .map(|(_, s)| s)
                .map_err(|reason| {
                    Unusable(format!("summary of {user} in {conversation}: {reason}"))
                });
            out.push((conversation, summary));
        }
        Ok(out)
    }
}
