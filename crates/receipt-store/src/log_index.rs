//! The log's derived index: stream runs (a stream's events inside chunks) and event ids (where
//! each event is). Both are pure functions of the chunks, written after each chunk and rewritten
//! on open when a crash lost them.

use crate::backend::{Backend, Entry};
use crate::error::StoreError;
use crate::keys::{self, Run};
use crate::log::{EventLog, Writer};
use crate::record;
use receipt_domain::{ConversationId, Event, EventBody, MessageId};
use rustc_hash::FxHashMap;

impl<B: Backend> EventLog<B> {
    /// Rewrites the index entries of every chunk from the one holding `position` to the head.
    pub(crate) fn reindex_from(&self, position: u64) -> Result<(), StoreError> {
        let mut w = self.writer();
        let start = self
            .backend
            .last_between(&keys::chunk(0), &keys::chunk(position))?
            .map_or_else(|| keys::chunk(0), |(k, _)| k);
        let from = keys::chunk_position(&start).unwrap_or(0);
        // Versions as of `from`: runs of later chunks may exist already and must not count.
        let mut versions: FxHashMap<Vec<u8>, u64> = FxHashMap::default();
        let chunks: Vec<_> = self.backend.range(&start, &keys::chunk(w.head)).collect();
        for item in chunks {
            let (k, v) = item?;
            let at = keys::chunk_position(&k)
                .ok_or_else(|| StoreError::corrupt(position, "bad chunk key"))?;
            let events = record::decode_chunk(&v, at)?;
            let mut puts = self.index_entries(at, &events, &mut versions, |stream| {
                self.version_before(stream, from)
            })?;
            puts.push((
                keys::HEAD.to_vec(),
                keys::u64_value(at + events.len() as u64),
            ));
            self.backend.write_each(puts)?;
        }
        w.versions.clear(); // reloaded from the now complete runs
        tracing::info!(from, to = w.head, "stream index repaired after a crash");
        drop(w);
        self.backend.flush()
    }

    /// A stream's version counting only its events in chunks before `position`.
    fn version_before(&self, stream: &[u8], position: u64) -> Result<u64, StoreError> {
        let mut runs = self
            .backend
            .range(&keys::run(stream, 0), &keys::run(stream, u64::MAX));
        let mut version = 0;
        // Runs are in version order, which is also chunk order: stop at the first late one.
        for item in &mut runs {
            let (k, v) = item?;
            let first = keys::run_first_version(&k)
                .ok_or_else(|| StoreError::corrupt(position, "bad stream run key"))?;
            let run =
                Run::decode(&v).ok_or_else(|| StoreError::corrupt(position, "bad stream run"))?;
            if run.chunk_position >= position {
                break;
            }
            version = (first + u64::from(run.count)).saturating_sub(1);
        }
        Ok(version)
    }

    /// The index entries of a chunk at `position`: one stream run per maximal run of
    /// consecutive events of one stream, and one event-id entry per event. A pure function of
    /// the chunk and the versions before it, so rewriting them after a crash writes exactly
    /// what the append wrote. `versions` carries the versions reached so far; `before` gives a
    /// stream's version when `versions` does not know it.
    pub(crate) fn index_entries(
        &self,
        position: u64,
        events: &[Event],
        versions: &mut FxHashMap<Vec<u8>, u64>,
        mut before: impl FnMut(&[u8]) -> Result<u64, StoreError>,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut puts = Vec::new();
        let mut i = 0;
        while i < events.len() {
            let conversation = events[i].body.conversation();
            let mut j = i + 1;
            while j < events.len() && events[j].body.conversation() == conversation {
                j += 1;
            }
            let stream = keys::stream_key(&conversation);
            let current = match versions.get(&stream) {
                Some(&v) => v,
                None => before(&stream)?,
            };
            let run = Run {
                chunk_position: position,
                offset: i as u32,
                count: (j - i) as u32,
            };
            puts.push((keys::run(&stream, current + 1), run.encode()));
            for (k, e) in events[i..j].iter().enumerate() {
                let at = position + (i + k) as u64;
                puts.push((
                    keys::event(e.id),
                    keys::event_value(at, current + 1 + k as u64),
                ));
                // Thread replies too: a message id is unique in the store, replies included.
                if let EventBody::MessageSent { message, .. }
                | EventBody::ThreadReplySent { message, .. } = &e.body
                {
                    puts.push((keys::message(*message), stream.clone()));
                }
            }
            versions.insert(stream, current + (j - i) as u64);
            i = j;
        }
        Ok(puts)
    }

    /// The conversation a message was sent in, from the message index (`None`: no such message).
    pub fn message_conversation(
        &self,
        message: MessageId,
    ) -> Result<Option<ConversationId>, StoreError> {
        match self.backend.get(&keys::message(message))? {
            None => Ok(None),
            Some(stream) => keys::conversation_of_stream(&stream)
                .map(Some)
                .map_err(|e| StoreError::corrupt(0, format!("message index of {message}: {e}"))),
        }
    }

    /// The stream's version: how many events it holds.
    pub fn version(&self, conversation: &ConversationId) -> Result<u64, StoreError> {
        let stream = keys::stream_key(conversation);
        let mut w = self.writer();
        self.stream_version(&mut w, &stream)
    }

    pub(crate) fn stream_version(&self, w: &mut Writer, stream: &[u8]) -> Result<u64, StoreError> {
        if let Some(&v) = w.versions.get(stream) {
            return Ok(v);
        }
        let v = self.stored_version(stream)?;
        w.versions.insert(stream.to_vec(), v);
        Ok(v)
    }

    /// A stream's version as the index says: where its last run ends.
    pub(crate) fn stored_version(&self, stream: &[u8]) -> Result<u64, StoreError> {
        let last = self
            .backend
            .last_between(&keys::run_prefix(stream), &keys::run(stream, u64::MAX))?;
        let v = match last {
            None => 0,
            Some((k, v)) => {
                let first = keys::run_first_version(&k)
                    .ok_or_else(|| StoreError::corrupt(0, "bad stream run key"))?;
                let run =
                    Run::decode(&v).ok_or_else(|| StoreError::corrupt(0, "bad stream run"))?;
                (first + u64::from(run.count)).saturating_sub(1)
            }
        };
        Ok(v)
    }
}
