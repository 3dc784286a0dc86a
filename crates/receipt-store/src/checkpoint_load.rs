//! Reading checkpoint entries: each is believed only when it passes every check (its checksum
//! and layout, the key and the generation it is bound to, and what the log says of its
//! stream); anything else, an entry the backend cannot even read included, comes back as
//! [`Unusable`] for the engine to rebuild from the log. A cache never stops the engine.

use crate::backend::Backend;
use crate::checkpoint::{
    entry_crc, keyed, summary_key, unbind, user_key, Marker, Roster, RosterMap, Unusable, HEADER,
    MARKER, PARTITION, ROSTER, SUMMARY,
};
use crate::error::StoreError;
use crate::keys;
use crate::log::EventLog;
use receipt_domain::{
    ConversationHeader, ConversationId, HeldEarlyAcks, ReaderSummary, State, UserId,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;

impl<B: Backend> EventLog<B> {
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
    /// `Err(Unusable)` as for [`EventLog::checkpoint_marker`]. A usable marker sets the
    /// generation every other entry must carry.
    pub fn checkpoint_mark(&self) -> Result<Result<Option<Marker>, Unusable>, StoreError> {
        let bytes = match self.backend.checkpoint_get(MARKER) {
            Ok(None) => return Ok(Ok(None)),
            Ok(Some(bytes)) => bytes,
            Err(e) => return Ok(Err(Unusable(format!("checkpoint marker unreadable: {e}")))),
        };
        Ok(match unbind::<HeldEarlyAcks>(MARKER, &bytes) {
            Ok((position, generation, held_early_acks)) if position <= self.head() => {
                self.checkpoints
                    .generation
                    .store(generation, Ordering::SeqCst);
                Ok(Some(Marker {
                    position,
                    held_early_acks,
                }))
            }
            Ok((position, _, _)) => Err(Unusable(format!(
                "checkpoint marker at {position} is ahead of the log's {} events",
                self.head()
            ))),
            Err(reason) => Err(Unusable(format!("checkpoint marker: {reason}"))),
        })
    }

    /// The generation entries must carry: this process's, else the stored marker's.
    fn generation(&self) -> Option<u64> {
        let known = self.checkpoints.generation.load(Ordering::SeqCst);
        if known != 0 {
            return Some(known);
        }
        match self.checkpoint_mark() {
            Ok(Ok(Some(_))) => Some(self.checkpoints.generation.load(Ordering::SeqCst)),
            _ => None,
        }
    }

    /// The entry under `key`, decoded and checked against its key and generation: its
    /// position and value. `what` names it in the reason it is unusable.
    fn entry<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
        what: impl Fn() -> String,
    ) -> Option<Result<(u64, T), Unusable>> {
        let bytes = match self.backend.checkpoint_get(key) {
            Ok(None) => return None,
            Ok(Some(bytes)) => bytes,
            Err(e) => return Some(Err(Unusable(format!("{}: unreadable ({e})", what())))),
        };
        Some(
            self.check_bound(key, &bytes)
                .map_err(|reason| Unusable(format!("{}: {reason}", what()))),
        )
    }

    /// Decodes an entry stored under `key` and checks its key and generation.
    pub(crate) fn check_bound<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
        bytes: &[u8],
    ) -> Result<(u64, T), String> {
        let (position, generation, value) = unbind(key, bytes)?;
        match self.generation() {
            Some(g) if g == generation => Ok((position, value)),
            Some(g) => Err(format!(
                "it belongs to another checkpoint (generation {generation:016x}, the marker's is {g:016x})"
            )),
            None => Err("no checkpoint marker vouches for it".into()),
        }
    }

    /// The checkpointed partition of `conversation` (the state after its stream's first
    /// `events_applied()` events), if one is stored and passes every check.
    pub fn load_partition(
        &self,
        conversation: &ConversationId,
    ) -> Result<Option<Result<State, Unusable>>, StoreError> {
        let what = || format!("checkpoint of {conversation}");
        Ok(self
            .entry::<(u128, State)>(&keyed(PARTITION, conversation), what)
            .map(|entry| {
                entry.and_then(|(version, (last, state))| {
                    self.check_partition(conversation, version, last, state)
                        .map_err(|reason| Unusable(format!("{}: {reason}", what())))
                })
            }))
    }

    fn check_partition(
        &self,
        conversation: &ConversationId,
        version: u64,
        last: u128,
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
        let at = self
            .event_id_at(conversation, version)
            .map_err(|e| format!("stream unreadable: {e}"))?;
        if at != last {
            return Err(format!(
                "its event {version} is not the stream's (lost in a crash, or from another log)"
            ));
        }
        state.check_invariants().map_err(|e| e.to_string())?;
        Ok(state)
    }

    /// The checkpointed header of `conversation` and the stream version it is exact at, which
    /// must be the stream's: a header is rewritten with every event of its conversation, so
    /// one behind its stream is stale.
    #[allow(clippy::type_complexity)]
    pub fn load_header(
        &self,
        conversation: &ConversationId,
    ) -> Result<Option<Result<(ConversationHeader, u64), Unusable>>, StoreError> {
        let what = || format!("header of {conversation}");
        let Some(entry) = self.stored_header(conversation) else {
            return Ok(None);
        };
        let (header, version) = match entry {
            Ok(found) => found,
            Err(unusable) => return Ok(Some(Err(unusable))),
        };
        let stream = self.version(conversation)?;
        Ok(Some(if version == stream {
            Ok((header, version))
        } else {
            Err(Unusable(format!(
                "{}: exact at version {version}, the stream is at {stream}",
                what()
            )))
        }))
    }

    /// The header stored for `conversation` and the stream version it was exact at, checked
    /// against its key and generation but not against the stream (which may have moved on
    /// since: [`EventLog::load_header`] is what an answer may use).
    pub fn stored_header(
        &self,
        conversation: &ConversationId,
    ) -> Option<Result<(ConversationHeader, u64), Unusable>> {
        let what = || format!("header of {conversation}");
        self.entry::<ConversationHeader>(&keyed(HEADER, conversation), what)
            .map(|entry| entry.map(|(version, header)| (header, version)))
    }

    /// The checkpointed summary of `user` in `conversation`, as its user's roster lists it: one
    /// missing although the roster lists it (deleted), or another than the roster lists (put
    /// back from an earlier checkpoint), comes back unusable, not as `None` or as itself.
    pub fn load_summary(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<Option<Result<ReaderSummary, Unusable>>, StoreError> {
        let key = summary_key(user, conversation);
        let stored = match self.backend.checkpoint_get(&key) {
            Ok(found) => found.ok_or(None),
            Err(e) => Err(Some(e)),
        };
        let roster = self.roster(user);
        Ok(self.summary_as_listed(user, conversation, &key, stored, roster.as_ref()))
    }

    /// Checks a summary entry (or its absence, or a failed read) against the roster.
    fn summary_as_listed(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        key: &[u8],
        stored: Result<Vec<u8>, Option<StoreError>>,
        roster: Option<&RosterMap>,
    ) -> Option<Result<ReaderSummary, Unusable>> {
        let unusable = |reason: String| {
            Some(Err(Unusable(format!(
                "summary of {user} in {conversation}: {reason}"
            ))))
        };
        let listed = roster.and_then(|r| r.get(&keys::stream_key(conversation)).copied());
        let bytes = match stored {
            Ok(bytes) => bytes,
            Err(Some(e)) => return unusable(format!("unreadable ({e})")),
            Err(None) if listed.is_some() => {
                return unusable("missing, but its roster lists it".into())
            }
            Err(None) => return None,
        };
        if let Some(crc) = listed.filter(|crc| *crc != entry_crc(&bytes)) {
            return unusable(format!(
                "not the entry its roster lists (CRC {:08x}, the roster's {crc:08x}): stale or replaced",
                entry_crc(&bytes)
            ));
        }
        Some(
            self.check_bound::<ReaderSummary>(key, &bytes)
                .map(|(_, s)| s)
                .map_err(|reason| {
                    Unusable(format!("summary of {user} in {conversation}: {reason}"))
                }),
        )
    }

    /// `user`'s roster, if it has a usable one.
    fn roster(&self, user: &UserId) -> Option<RosterMap> {
        let key = user_key(ROSTER, user);
        let bytes = self.backend.checkpoint_get(&key).ok()??;
        let (_, roster) = self.check_bound::<Roster>(&key, &bytes).ok()?;
        roster.streams().ok()
    }

    /// Every checkpointed summary of `user`, by conversation; an entry that fails its checks,
    /// or is missing although the user's roster lists it, comes back as `Err` with its
    /// conversation, for the caller to rebuild.
    #[allow(clippy::type_complexity)]
    pub fn load_user_summaries(
        &self,
        user: &UserId,
    ) -> Result<Vec<(ConversationId, Result<ReaderSummary, Unusable>)>, StoreError> {
        let prefix = user_key(SUMMARY, user);
        let mut end = prefix.clone();
        end.extend_from_slice(&[0xFF; 9]);
        let roster = self.roster(user);
        let mut found: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut unreadable = None;
        for item in self.backend.checkpoint_range(&prefix, &end) {
            match item {
                Ok((k, v)) => {
                    found.insert(k[prefix.len()..].to_vec(), v);
                }
                Err(e) => {
                    unreadable = Some(e);
                    break;
                }
            }
        }
        if let (Some(e), None) = (unreadable.as_ref(), roster.as_ref()) {
            // The scan cannot go on past damaged data, and no roster says what is beyond it.
            return Err(StoreError::corrupt(
                0,
                format!("the checkpoint summaries of {user} are unreadable: {e}"),
            ));
        }
        let conversation_of = |stream: &[u8]| {
            keys::conversation_of_stream(stream).map_err(|e| {
                StoreError::corrupt(0, format!("checkpoint summary key of {user}: {e}"))
            })
        };
        let mut streams: BTreeSet<Vec<u8>> = found.keys().cloned().collect();
        streams.extend(roster.iter().flat_map(|r| r.keys().cloned()));
        let mut out = Vec::with_capacity(streams.len());
        for stream in streams {
            let conversation = conversation_of(&stream)?;
            let mut key = prefix.clone();
            key.extend_from_slice(&stream);
            let stored = match found.remove(&stream) {
                Some(bytes) => Ok(bytes),
                // Past a damaged scan, each listed one is looked up (and rebuilt if unreadable).
                None if unreadable.is_some() => match self.backend.checkpoint_get(&key) {
                    Ok(found) => found.ok_or(None),
                    Err(e) => Err(Some(e)),
                },
                None => Err(None),
            };
            if let Some(summary) =
                self.summary_as_listed(user, &conversation, &key, stored, roster.as_ref())
            {
                out.push((conversation, summary));
            }
        }
        Ok(out)
    }
}
