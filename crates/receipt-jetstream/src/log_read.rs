//! Reads of the JetStream log: a conversation's decisions, and a partition's from a sequence
//! on (an ordered consumer), each message checked to be a record this log wrote there.
//!
//! A message of partition `p` is believed only when all of these hold; otherwise it is a bad
//! record, named by its stream sequence:
//! - its sequence follows the previous one (deletes are denied: a gap is a lost message);
//! - it is a no-op record (checksum, format), or its subject names partition `p` and a
//!   conversation that lives in `p`;
//! - its `Receipts-Position` header is the conversation's version so far (a record repeated, or
//!   one after a record that is not there, is refused), and its checksummed record says the same;
//! - every event in it is of the subject's conversation.

use crate::error::JetStreamError;
use crate::log::{JetStreamLog, POSITION};
use crate::naming::{conversation_of_subject, partition_of, partition_of_subject};
use crate::noop::{decode_noop, NOOP_TOKEN};
use async_nats::jetstream::{self, stream};
use receipt_domain::{CommandId, ConversationId, Event};
use receipt_store::wire::decode_record;
use receipt_store::StoreError;
use std::collections::HashMap;

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

/// One message of a partition, as [`JetStreamLog::scan_partition`] judged it.
pub(crate) enum Scanned {
    /// A decision: its events, in `conversation` from version `position` on.
    Decision {
        sequence: u64,
        conversation: ConversationId,
        position: u64,
        events: Vec<Event>,
    },
    /// An accepted no-op's record.
    Noop { sequence: u64, command: CommandId },
    /// A message that is not a record this log wrote there (or a missing one).
    Bad { sequence: u64, reason: String },
}

/// Each conversation's version as far as a scan has read, and where an unseen one starts.
pub(crate) struct Chains<'a> {
    versions: HashMap<ConversationId, u64>,
    /// Where an unseen conversation starts; `None`: at its first record read (a read from the
    /// middle of a partition, which checks each chain from there on).
    start: Option<StartVersion<'a>>,
}

type StartVersion<'a> = Box<dyn FnMut(&ConversationId) -> Result<u64, StoreError> + 'a>;

impl<'a> Chains<'a> {
    /// Every conversation starts at version 0: a read from the partition's start.
    pub(crate) fn from_start() -> Self {
        Self::starting(|_| Ok(0))
    }

    /// Unseen conversations start at the version `start` gives (what a replica holds already).
    pub(crate) fn starting(
        start: impl FnMut(&ConversationId) -> Result<u64, StoreError> + 'a,
    ) -> Self {
        Self {
            versions: HashMap::new(),
            start: Some(Box::new(start)),
        }
    }

    /// Each conversation's chain checked from its first record read on.
    pub(crate) fn from_first_read() -> Self {
        Self {
            versions: HashMap::new(),
            start: None,
        }
    }

    /// The version `c`'s next record must start at (`position` for an unseen conversation when
    /// chains start at their first record read).
    fn version(&mut self, c: &ConversationId, position: u64) -> Result<u64, StoreError> {
        if let Some(&v) = self.versions.get(c) {
            return Ok(v);
        }
        let v = match &mut self.start {
            Some(start) => start(c)?,
            None => position,
        };
        self.versions.insert(c.clone(), v);
        Ok(v)
    }
}

/// The inner reason of a store error, without the position it names (a conversation's
/// position, which would read as the stream's).
fn reason_of(e: StoreError) -> String {
    match e {
        StoreError::Corrupt { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// What a message of partition `p` is, its conversation's chain moved past it when it is good.
fn judge(
    p: u32,
    partitions: u32,
    sequence: u64,
    m: &async_nats::Message,
    chains: &mut Chains<'_>,
) -> Result<Scanned, StoreError> {
    let subject = m.subject.as_str();
    let bad = |reason: String| Ok(Scanned::Bad { sequence, reason });
    if partition_of_subject(subject) != Some(p) {
        return bad(format!("subject {subject} is not of partition {p}"));
    }
    if subject.rsplit('.').next() == Some(NOOP_TOKEN) {
        return match decode_noop(&m.payload, sequence) {
            Ok(command) => Ok(Scanned::Noop { sequence, command }),
            Err(e) => bad(reason_of(e)),
        };
    }
    let conversation = match conversation_of_subject(subject) {
        Ok(c) => c,
        Err(e) => return bad(reason_of(e)),
    };
    let home = partition_of(&conversation, partitions);
    if home != p {
        return bad(format!("{conversation} lives in partition {home}, not {p}"));
    }
    let Some(position) = m
        .headers
        .as_ref()
        .and_then(|h| h.get(POSITION))
        .and_then(|v| v.as_str().parse::<u64>().ok())
    else {
        return bad(format!("no valid {POSITION} header"));
    };
    let version = chains.version(&conversation, position)?;
    if position != version {
        return bad(format!(
            "a record of {conversation} at version {position}, where the conversation is at {version} (a repeated record, or one after a record that is not there)"
        ));
    }
    let events = match decode_record(&m.payload, position) {
        Ok(events) => events,
        Err(e) => return bad(reason_of(e)),
    };
    if let Some(other) = events
        .iter()
        .map(|e| e.body.conversation())
        .find(|c| *c != conversation)
    {
        return bad(format!("an event of {other} on {conversation}'s subject"));
    }
    chains
        .versions
        .insert(conversation.clone(), position + events.len() as u64);
    Ok(Scanned::Decision {
        sequence,
        conversation,
        position,
        events,
    })
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
            let decoded = decode_record(&m.payload, position)
                .map_err(|e| JetStreamError::bad_record(p as u32, m.sequence, reason_of(e)))?;
            events.extend(decoded);
            next = m.sequence + 1;
        }
        Ok(events)
    }

    /// Partition `p`'s events from stream sequence `from` (1 is the start) to its head as of
    /// the call, in stream order (each conversation's in its own order), each message checked
    /// as the module says (from a later `from`, each conversation's versions are checked from
    /// its first record read). The first bad message is [`JetStreamError::BadRecord`]; a stream
    /// that ends before its high-water mark is [`JetStreamError::PartitionShortened`].
    pub fn replay_partition(
        &self,
        p: u32,
        from: u64,
        visit: impl FnMut(&ConversationId, PartitionEvent),
    ) -> Result<u64, JetStreamError> {
        let chains = if from <= 1 {
            Chains::from_start()
        } else {
            Chains::from_first_read()
        };
        self.replay_partition_with(p, from, chains, visit, |_, _| {})
    }

    /// [`JetStreamLog::replay_partition`] with each conversation's version at `from` given by
    /// `chains`, also visiting each no-op record (its sequence and command id).
    pub(crate) fn replay_partition_with(
        &self,
        p: u32,
        from: u64,
        mut chains: Chains<'_>,
        mut visit: impl FnMut(&ConversationId, PartitionEvent),
        mut visit_noop: impl FnMut(u64, CommandId),
    ) -> Result<u64, JetStreamError> {
        let head = self.checked_head(p, from.saturating_sub(1))?;
        self.scan_partition(p, from, head, &mut chains, |scanned| {
            match scanned {
                Scanned::Decision {
                    sequence,
                    conversation,
                    position,
                    events,
                } => {
                    for (i, event) in events.into_iter().enumerate() {
                        visit(
                            &conversation,
                            PartitionEvent {
                                sequence,
                                version: position + 1 + i as u64,
                                event,
                            },
                        );
                    }
                }
                Scanned::Noop { sequence, command } => visit_noop(sequence, command),
                Scanned::Bad { sequence, reason } => {
                    return Err(JetStreamError::bad_record(p, sequence, reason))
                }
            }
            Ok(())
        })?;
        Ok(head)
    }

    /// Partition `p`'s messages from sequence `from` to `to` (both included), each judged
    /// against `chains` and given to `on` in stream order; `on`'s error stops the scan.
    pub(crate) fn scan_partition(
        &self,
        p: u32,
        from: u64,
        to: u64,
        chains: &mut Chains<'_>,
        mut on: impl FnMut(Scanned) -> Result<(), JetStreamError>,
    ) -> Result<(), JetStreamError> {
        use futures_util::StreamExt;
        let from = from.max(1);
        if from > to {
            return Ok(());
        }
        let stream = self.partition_stream(p)?;
        let partitions = self.partitions();
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
            while expected <= to {
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
                let sequence = m
                    .info()
                    .map_err(|e| JetStreamError::request("replay a partition", e))?
                    .stream_sequence;
                // Deletes are denied: a gap is messages the server lost, each one reported.
                while expected < sequence.min(to + 1) {
                    on(Scanned::Bad {
                        sequence: expected,
                        reason: "missing from the stream (deletes are denied)".into(),
                    })?;
                    expected += 1;
                }
                if sequence > to {
                    break;
                }
                on(judge(p, partitions, sequence, &m.message, chains)?)?;
                expected = sequence + 1;
            }
            Ok(())
        })
    }
}
