//! Reading the log: a stream through its index, the whole log in position order, and the
//! snapshot of the projections. Every read checks what it decodes; damage is a typed error.

use crate::backend::Backend;
use crate::error::StoreError;
use crate::keys::{self, Run};
use crate::log::{EventLog, StoredEvent, StreamEvent};
use crate::record;
use receipt_domain::{ConversationId, Event, State};

impl<B: Backend> EventLog<B> {
    /// Events of one conversation, from 1-based `from_version`, at most `max`.
    pub fn read_stream(
        &self,
        conversation: &ConversationId,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<StreamEvent>, StoreError> {
        let events =
            self.read_stream_from(&keys::stream_key(conversation), from_version.max(1), max)?;
        // The index is data too: an entry pointing at another stream's events is corruption.
        if let Some(e) = events
            .iter()
            .find(|e| &e.event.body.conversation() != conversation)
        {
            return Err(StoreError::corrupt(
                e.position,
                format!("stream index of {conversation} points at an event of another stream"),
            ));
        }
        Ok(events)
    }

    pub(crate) fn read_stream_from(
        &self,
        stream: &[u8],
        from_version: u64,
        max: usize,
    ) -> Result<Vec<StreamEvent>, StoreError> {
        let prefix = keys::run_prefix(stream);
        let start = self
            .backend
            .last_between(&prefix, &keys::run(stream, from_version))?
            .map_or_else(|| keys::run(stream, 0), |(k, _)| k);
        let mut end = prefix.clone();
        end.extend_from_slice(&[0xFF; 9]);
        let mut out = Vec::new();
        let mut cached: Option<(u64, Vec<Event>)> = None;
        for item in self.backend.range(&start, &end) {
            if out.len() >= max {
                break;
            }
            let (k, v) = item?;
            let first_version = keys::run_first_version(&k)
                .ok_or_else(|| StoreError::corrupt(0, "bad stream run key"))?;
            let run = Run::decode(&v).ok_or_else(|| StoreError::corrupt(0, "bad stream run"))?;
            if cached.as_ref().map(|c| c.0) != Some(run.chunk_position) {
                let bytes = self
                    .backend
                    .get(&keys::chunk(run.chunk_position))?
                    .ok_or_else(|| {
                        StoreError::corrupt(
                            run.chunk_position,
                            "stream index points at a missing chunk",
                        )
                    })?;
                cached = Some((
                    run.chunk_position,
                    record::decode_chunk(&bytes, run.chunk_position)?,
                ));
            }
            let events = &cached
                .as_ref()
                .map(|c| &c.1)
                .ok_or_else(|| StoreError::corrupt(0, "unreachable"))?[..];
            let span = run.offset as usize..(run.offset as usize + run.count as usize);
            let slice = events.get(span).ok_or_else(|| {
                StoreError::corrupt(run.chunk_position, "stream run outside its chunk")
            })?;
            for (i, e) in slice.iter().enumerate() {
                let version = first_version + i as u64;
                if version >= from_version && out.len() < max {
                    out.push(StreamEvent {
                        version,
                        position: run.chunk_position + u64::from(run.offset) + i as u64,
                        event: e.clone(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Visits every event from global position `from` in order, checking that positions are
    /// gapless up to the head. Returns the position after the last event visited.
    pub fn replay(&self, from: u64, visit: impl FnMut(StoredEvent)) -> Result<u64, StoreError> {
        self.replay_range(from, u64::MAX, visit)
    }

    /// Visits the events at positions `from..to` (`to` capped at the head) in order, reading no
    /// chunk past `to`, with the same gap and damage checks as [`EventLog::replay`]. Returns
    /// the position it reached (`to`, capped at the head).
    pub fn replay_range(
        &self,
        from: u64,
        to: u64,
        mut visit: impl FnMut(StoredEvent),
    ) -> Result<u64, StoreError> {
        let to = to.min(self.head());
        let start = self
            .backend
            .last_between(&keys::chunk(0), &keys::chunk(from))?
            .map_or_else(|| keys::chunk(0), |(k, _)| k);
        let mut next: Option<u64> = None;
        for item in self.backend.range(&start, &keys::chunk(to)) {
            let (k, v) = item?;
            let position = keys::chunk_position(&k)
                .ok_or_else(|| StoreError::corrupt(next.unwrap_or(0), "bad chunk key"))?;
            if let Some(expected) = next {
                if position != expected {
                    return Err(StoreError::corrupt(
                        expected,
                        format!("gap: next chunk starts at {position}"),
                    ));
                }
            }
            let events = record::decode_chunk(&v, position)?;
            next = Some(position + events.len() as u64);
            for (i, event) in events.into_iter().enumerate() {
                let p = position + i as u64;
                if p >= from && p < to {
                    visit(StoredEvent { position: p, event });
                }
            }
        }
        let reached = next.unwrap_or(0).max(from.min(to));
        if reached < to {
            return Err(StoreError::corrupt(
                reached,
                format!("log ends at {reached}, expected at least {to}"),
            ));
        }
        Ok(to)
    }

    /// Events from global position `from`, at most `max`, reading no chunk past them.
    pub fn read_from(&self, from: u64, max: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let to = from.saturating_add(u64::try_from(max).unwrap_or(u64::MAX));
        let mut out = Vec::new();
        self.replay_range(from, to, |e| out.push(e))?;
        Ok(out)
    }

    /// The events of the chunk holding `position`, from `position` on.
    pub(crate) fn read_chunk_from(&self, position: u64) -> Result<Vec<StoredEvent>, StoreError> {
        let Some((k, v)) = self
            .backend
            .last_between(&keys::chunk(0), &keys::chunk(position))?
        else {
            return Err(StoreError::corrupt(
                position,
                "no chunk holds this position",
            ));
        };
        let at = keys::chunk_position(&k)
            .ok_or_else(|| StoreError::corrupt(position, "bad chunk key"))?;
        let events = record::decode_chunk(&v, at)?;
        let skip = usize::try_from(position - at).unwrap_or(usize::MAX);
        if skip >= events.len() {
            return Err(StoreError::corrupt(
                position,
                "no chunk holds this position",
            ));
        }
        Ok(events
            .into_iter()
            .enumerate()
            .skip(skip)
            .map(|(i, event)| StoredEvent {
                position: at + i as u64,
                event,
            })
            .collect())
    }

    /// Folds the whole log into fresh projections.
    pub fn rebuild(&self) -> Result<(u64, State), StoreError> {
        self.rebuild_from(0, State::new())
    }

    fn rebuild_from(&self, from: u64, mut state: State) -> Result<(u64, State), StoreError> {
        let end = self.replay(from, |e| state.apply(&e.event))?;
        Ok((end, state))
    }

    /// Stores a snapshot of `state`, which must cover exactly the events `[0, position)`.
    /// The snapshot and the position it covers are one record: written atomically.
    pub fn save_snapshot(&self, position: u64, state: &State) -> Result<(), StoreError> {
        let bytes = record::encode_snapshot(position, state)?;
        self.backend.put_snapshot(bytes)?;
        self.backend.flush()
    }

    /// The stored snapshot if it is usable; an unusable one is reported and ignored.
    pub fn load_snapshot(&self) -> Option<(u64, State)> {
        let bytes = match self.backend.get_snapshot() {
            Ok(Some(b)) => b,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "snapshot unreadable; replaying the whole log");
                return None;
            }
        };
        match record::decode_snapshot(&bytes) {
            Ok((position, state)) if position <= self.head() => Some((position, state)),
            Ok((position, _)) => {
                tracing::warn!(
                    position,
                    head = self.head(),
                    "snapshot is ahead of the log; replaying the whole log"
                );
                None
            }
            Err(reason) => {
                tracing::warn!(%reason, "snapshot ignored; replaying the whole log");
                None
            }
        }
    }

    /// Projections as of now: the newest usable snapshot plus the tail after it.
    pub fn recover(&self) -> Result<(u64, State), StoreError> {
        match self.load_snapshot() {
            Some((position, state)) => self.rebuild_from(position, state),
            None => self.rebuild(),
        }
    }
}
