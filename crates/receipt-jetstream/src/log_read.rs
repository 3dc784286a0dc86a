//! Reads of the JetStream log: a conversation's decisions, and a partition's from a sequence
//! on (an ordered consumer), each record's checksum and position checked.

use crate::error::JetStreamError;
use crate::log::{JetStreamLog, POSITION};
use crate::naming::conversation_of_subject;
use crate::noop::{decode_noop, NOOP_TOKEN};
use async_nats::jetstream::{self, stream};
use receipt_domain::{CommandId, ConversationId, Event};
use receipt_store::wire::decode_record;
use receipt_store::StoreError;

/// One event read from a partition, where it is.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PartitionEvent {
    /// The message's sequence in the partition's stream.
    pub sequence: u64,
    /// The conversation's version this event makes (1 for its first event).
    pub version: u64,
    /// The event.
    pub event: Event,
}

impl JetStreamLog {
    /// Every event of `conversation`, in order.
    pub fn read_conversation(
        &self,
        conversation: &ConversationId,
    ) -> Result<Vec<Event>, JetStreamError> {
        let (p, subject) = self.subject(conversation);
        let mut events = Vec::new();
        let mut next = 1;
        loop {
            let got = self
                .runtime
                .block_on(self.streams[p].direct_get_next_for_subject(subject.clone(), Some(next)));
            let m = match got {
                Ok(m) => m,
                Err(e) if e.kind() == stream::DirectGetErrorKind::NotFound => break,
                Err(e) => return Err(JetStreamError::request("read a conversation", e)),
            };
            let position = events.len() as u64;
            events.extend(decode_record(&m.payload, position)?);
            next = m.sequence + 1;
        }
        Ok(events)
    }

    /// Partition `p`'s events from stream sequence `from` (1 is the start) to its head as of
    /// the call, in stream order (each conversation's in its own order), each checked against
    /// its checksum and the version its message says.
    pub fn replay_partition(
        &self,
        p: u32,
        from: u64,
        visit: impl FnMut(&ConversationId, PartitionEvent),
    ) -> Result<u64, JetStreamError> {
        self.replay_partition_with(p, from, visit, |_, _| {})
    }

    /// [`JetStreamLog::replay_partition`], also visiting each no-op record (its sequence and
    /// command id).
    pub(crate) fn replay_partition_with(
        &self,
        p: u32,
        from: u64,
        mut visit: impl FnMut(&ConversationId, PartitionEvent),
        mut visit_noop: impl FnMut(u64, CommandId),
    ) -> Result<u64, JetStreamError> {
        use futures_util::StreamExt;
        let head = self.partition_head(p)?;
        let from = from.max(1);
        if from > head {
            return Ok(head);
        }
        let stream = self.partition_stream(p)?;
        // An ordered consumer streams the messages in batches (one request per message would
        // bound the replay by round trips), from `from` on.
        self.runtime.block_on(async {
            let consumer = stream
                .create_consumer(jetstream::consumer::pull::OrderedConfig {
                    deliver_policy: jetstream::consumer::DeliverPolicy::ByStartSequence {
                        start_sequence: from,
                    },
                    ..Default::default()
                })
                .await
                .map_err(|e| JetStreamError::request("replay a partition", e))?;
            let mut messages = consumer
                .messages()
                .await
                .map_err(|e| JetStreamError::request("replay a partition", e))?;
            let mut expected = from;
            while expected <= head {
                let m = match messages.next().await {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => return Err(JetStreamError::request("replay a partition", e)),
                    None => {
                        return Err(JetStreamError::request(
                            "replay a partition",
                            "the consumer ended",
                        ))
                    }
                };
                let seq = m
                    .info()
                    .map_err(|e| JetStreamError::request("replay a partition", e))?
                    .stream_sequence;
                // Deletes are denied: a gap is a message the server lost, reported as damage.
                if seq != expected {
                    return Err(StoreError::corrupt(
                        expected,
                        "a message of the partition is missing",
                    )
                    .into());
                }
                if m.subject.as_str().rsplit('.').next() == Some(NOOP_TOKEN) {
                    visit_noop(seq, decode_noop(&m.payload, seq)?);
                    expected = seq + 1;
                    continue;
                }
                let conversation = conversation_of_subject(m.subject.as_str())?;
                let headers = m.headers.as_ref();
                let position: u64 = headers
                    .and_then(|h| h.get(POSITION))
                    .and_then(|v| v.as_str().parse().ok())
                    .ok_or_else(|| {
                        StoreError::corrupt(
                            seq,
                            format!("message without a valid {POSITION} header"),
                        )
                    })?;
                for (i, event) in decode_record(&m.payload, position)?.into_iter().enumerate() {
                    visit(
                        &conversation,
                        PartitionEvent {
                            sequence: seq,
                            version: position + 1 + i as u64,
                            event,
                        },
                    );
                }
                expected = seq + 1;
            }
            Ok(head)
        })
    }
}
