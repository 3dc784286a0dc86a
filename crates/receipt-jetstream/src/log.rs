//! The log on JetStream: P streams (one per partition, fixed when the log is created and
//! recorded in the cluster), one subject per conversation, one message per decision carrying
//! the project's checksummed record of its events.
//!
//! A conversation's version is its number of events, as in the sled log. Each message says the
//! version before it (`Receipts-Position`, checked against the position inside the checksummed
//! record), so a conversation's version is one direct get of its subject's last message and a
//! decode of its record. (`Receipts-Version` and `Receipts-First-Event` are written for people
//! reading the stream with the `nats` tool; the log never trusts them.) An append publishes with `Nats-Expected-Last-Subject-Sequence` (the server refuses
//! it if anything was appended to the conversation since it was decided) and `Nats-Msg-Id` (its
//! first event's id: a retry within the stream's duplicate window is dropped by the server); a
//! retry that arrives after its own append is recognised by reading the subject's last message.

use crate::error::JetStreamError;
use crate::naming::{
    conversation_of_subject, kv_key, partition_of, stream_name, stream_subjects, subject_of,
};
use crate::noop::{decode_noop, encode_noop, noop_subject, NOOP_TOKEN};
use async_nats::jetstream::{self, kv, stream};
use bytes::Bytes;
use receipt_domain::{CommandId, ConversationId, Event, EventId};
use receipt_store::wire::{decode_record, encode_record};
use receipt_store::StoreError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

const POSITION: &str = "Receipts-Position";
const VERSION: &str = "Receipts-Version";
const FIRST_EVENT: &str = "Receipts-First-Event";
const PARTITIONS_KEY: &str = "partitions";

/// How to reach and lay out the log.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JetStreamOptions {
    /// The server, e.g. `nats://127.0.0.1:4222`, or several servers of one cluster separated by
    /// commas (the client moves to another when one fails).
    pub url: String,
    /// Prefix of every stream, subject and bucket of this log (several logs can share a
    /// cluster).
    pub prefix: String,
    /// Partitions when the log is created (ignored, but checked, when it exists).
    pub partitions: u32,
    /// Replicas of every stream and bucket (1 on a single server; 3 on a 3-node cluster: an
    /// acknowledged append is then on a quorum of 2).
    pub replicas: usize,
    /// How long the server remembers a message id to drop a retried append.
    pub duplicate_window: Duration,
}

impl JetStreamOptions {
    /// A log at `url` with the defaults: prefix `receipts`, 8 partitions, 1 replica, a two-minute
    /// duplicate window (JetStream's default).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "receipts".into(),
            partitions: 8,
            replicas: 1,
            duplicate_window: Duration::from_secs(120),
        }
    }

    /// With `partitions` partitions (at creation).
    pub fn with_partitions(mut self, partitions: u32) -> Self {
        self.partitions = partitions;
        self
    }

    /// With `replicas` replicas per stream and bucket.
    pub fn with_replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas;
        self
    }

    /// With another prefix for the streams, subjects and buckets.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Appended {
    /// The conversation's version after it.
    pub version: u64,
    /// The message's sequence in its partition's stream.
    pub sequence: u64,
    /// The same events were already appended (a retry): nothing new was stored.
    pub duplicate: bool,
}

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

/// An append ready to publish.
struct Planned {
    conversation: ConversationId,
    partition: u32,
    subject: String,
    message: jetstream::message::PublishMessage,
    expected_version: u64,
    after: u64,
    first: EventId,
}

/// What an append comes to before it is sent.
enum Plan {
    /// Answered without sending (a recognised retry, or a conflict).
    Settled(Result<Appended, JetStreamError>),
    /// To be sent.
    Publish(Planned),
}

/// How many times an owner's append refused for its fence is sent again while its partition
/// holds nothing past the fence (see `JetStreamLog::moved_past`).
const FENCE_RECHECKS: u32 = 20;

/// Whether the server refused a publish because a sequence it expected was not the last:
/// error 10071, or its constant form 10164 (which the client does not classify). Either is a
/// refusal (nothing stored), not a lost answer. On a cluster, 10164 also answers an expectation
/// sent before the message it names was applied: which is why an owner sends its appends to a
/// partition one at a time (docs/scale-out.md).
fn wrong_last_sequence(e: &jetstream::context::PublishError) -> bool {
    e.kind() == jetstream::context::PublishErrorKind::WrongLastSequence
        || std::error::Error::source(e)
            .and_then(|s| s.downcast_ref::<jetstream::Error>())
            .is_some_and(|j| {
                j.error_code() == jetstream::ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT
            })
}

/// The last message of a conversation's subject, as far as an append needs it.
#[derive(Debug, Clone, Copy, Default)]
struct Tip {
    version: u64,
    sequence: u64,
    first_event: Option<EventId>,
}

/// The receipt log on a JetStream server or cluster. Blocking: it runs its client on a runtime
/// of its own.
pub struct JetStreamLog {
    pub(crate) runtime: tokio::runtime::Runtime,
    context: jetstream::Context,
    streams: Vec<stream::Stream>,
    checkpoints: kv::Store,
    pub(crate) leases: kv::Store,
    prefix: String,
    url: String,
    /// Each conversation's last message, as this process last saw or wrote it.
    tips: Mutex<HashMap<ConversationId, Tip>>,
}

impl std::fmt::Debug for JetStreamLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamLog")
            .field("prefix", &self.prefix)
            .field("partitions", &self.streams.len())
            .finish_non_exhaustive()
    }
}

impl JetStreamLog {
    /// Connects, and creates the log (its partition count, streams and buckets) if it does not
    /// exist. An existing log keeps the partition count it was created with: asking for another
    /// is [`JetStreamError::PartitionsMismatch`].
    pub fn connect(options: &JetStreamOptions) -> Result<Self, JetStreamError> {
        Self::connect_as(options, true)
    }

    /// Opens the log named by `options.prefix` if it exists, with the partition count it was
    /// created with (`options.partitions` is not used); [`JetStreamError::NoLog`] if it does not.
    /// Creates nothing: for tools that inspect a log (`receipts --nats URL verify`).
    pub fn open_existing(options: &JetStreamOptions) -> Result<Self, JetStreamError> {
        Self::connect_as(options, false)
    }

    fn connect_as(options: &JetStreamOptions, create: bool) -> Result<Self, JetStreamError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| JetStreamError::request("runtime", e))?;
        let (context, streams, checkpoints, leases) = runtime.block_on(open(options, create))?;
        Ok(Self {
            runtime,
            context,
            streams,
            checkpoints,
            leases,
            prefix: options.prefix.clone(),
            url: options.url.clone(),
            tips: Mutex::new(HashMap::new()),
        })
    }

    /// Where the log is: the server's URL and the log's prefix.
    pub fn location(&self) -> String {
        format!("{} (prefix {})", self.url, self.prefix)
    }

    /// The log's prefix (its streams, subjects and buckets start with it).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Partitions of the log (fixed when it was created).
    pub fn partitions(&self) -> u32 {
        self.streams.len() as u32
    }

    /// The partition `conversation` lives in: what a service routes a command by.
    pub fn partition(&self, conversation: &ConversationId) -> u32 {
        partition_of(conversation, self.partitions())
    }

    fn subject(&self, conversation: &ConversationId) -> (usize, String) {
        let p = self.partition(conversation);
        (p as usize, subject_of(&self.prefix, p, conversation))
    }

    fn tips(&self) -> std::sync::MutexGuard<'_, HashMap<ConversationId, Tip>> {
        self.tips
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The conversation's last message as the server has it.
    fn fetch_tip(&self, conversation: &ConversationId) -> Result<Tip, JetStreamError> {
        let (p, subject) = self.subject(conversation);
        let got = self
            .runtime
            .block_on(self.streams[p].direct_get_last_for_subject(subject));
        let tip = match got {
            Ok(m) => tip_of(&m)?,
            Err(e) if e.kind() == stream::DirectGetErrorKind::NotFound => Tip::default(),
            Err(e) => return Err(JetStreamError::request("read the conversation's tip", e)),
        };
        self.tips().insert(conversation.clone(), tip);
        Ok(tip)
    }

    /// The conversation's version: its number of events.
    pub fn version(&self, conversation: &ConversationId) -> Result<u64, JetStreamError> {
        Ok(self.fetch_tip(conversation)?.version)
    }

    /// Appends one decision's `events` to `conversation`, decided at `expected_version`: all of
    /// them or none, only if nothing was appended to the conversation since, once however often
    /// it is retried (a retry is answered with `duplicate`).
    pub fn append(
        &self,
        conversation: &ConversationId,
        expected_version: u64,
        events: &[Event],
    ) -> Result<Appended, JetStreamError> {
        self.append_fenced(conversation, expected_version, events, None)
    }

    /// [`JetStreamLog::append`]; with `fence` (the partition stream's last sequence as its
    /// owner knows it), also only if nothing was appended to the whole partition since: the
    /// server refuses the append of an owner that another has replaced
    /// ([`JetStreamError::Fenced`]), whichever conversation it names.
    pub(crate) fn append_fenced(
        &self,
        conversation: &ConversationId,
        expected_version: u64,
        events: &[Event],
        mut fence: Option<&mut u64>,
    ) -> Result<Appended, JetStreamError> {
        let mut rechecks = 0;
        loop {
            let planned =
                match self.plan(conversation, expected_version, events, fence.as_deref())? {
                    Plan::Settled(answer) => return answer,
                    Plan::Publish(planned) => planned,
                };
            let acked = self.runtime.block_on(async {
                self.context
                    .send_publish(planned.subject.clone(), planned.message.clone())
                    .await?
                    .await
            });
            let answer = self.finish(&planned, acked, fence.is_some());
            match (&answer, fence.as_deref_mut()) {
                // Stored (or found stored: a retry of ours the client sent again) past the
                // fence: the fence moves to it.
                (Ok(a), Some(last)) if a.sequence > *last => *last = a.sequence,
                (Err(JetStreamError::Fenced { partition }), Some(last))
                    if rechecks < FENCE_RECHECKS && !self.moved_past(*partition, *last)? =>
                {
                    rechecks += 1;
                    std::thread::sleep(Duration::from_millis(5 * u64::from(rechecks)));
                    continue;
                }
                _ => {}
            }
            return answer;
        }
    }

    /// Whether partition `p` holds a message past sequence `last`: what tells a real fence
    /// (another owner appended) from a refusal of a cluster that had not applied the owner's
    /// previous message yet when the next one came (error 10164, seen under load on the
    /// 3-node cluster in `examples/engine_rates.rs`, with nothing appended by anyone else).
    fn moved_past(&self, p: u32, last: u64) -> Result<bool, JetStreamError> {
        Ok(self.partition_head(p)? > last)
    }

    /// Several decisions, each to a different conversation, published without waiting for one
    /// another's acknowledgement (one round trip for all instead of one each): each is accepted,
    /// refused or recognised as [`JetStreamLog::append`] would, and answered in order. The
    /// outer `Err` is a decision naming a conversation twice (its second would depend on the
    /// first's acknowledgement).
    pub fn append_many(
        &self,
        decisions: &[(ConversationId, u64, Vec<Event>)],
    ) -> Result<Vec<Result<Appended, JetStreamError>>, JetStreamError> {
        let mut seen = std::collections::HashSet::new();
        if let Some((c, _, _)) = decisions.iter().find(|(c, _, _)| !seen.insert(c)) {
            return Err(JetStreamError::ConversationTwice {
                conversation: c.clone(),
            });
        }
        let plans = decisions
            .iter()
            .map(|(c, v, events)| self.plan(c, *v, events, None))
            .collect::<Vec<_>>();
        let acks = self.runtime.block_on(async {
            let mut pending = Vec::with_capacity(plans.len());
            for plan in &plans {
                pending.push(match plan {
                    Ok(Plan::Publish(p)) => Some(
                        self.context
                            .send_publish(p.subject.clone(), p.message.clone())
                            .await,
                    ),
                    _ => None,
                });
            }
            let mut acks = Vec::with_capacity(pending.len());
            for sent in pending {
                acks.push(match sent {
                    Some(Ok(future)) => Some(future.await),
                    Some(Err(e)) => Some(Err(e)),
                    None => None,
                });
            }
            acks
        });
        Ok(plans
            .into_iter()
            .zip(acks)
            .map(|(plan, ack)| match (plan?, ack) {
                (Plan::Settled(answer), _) => answer,
                (Plan::Publish(p), Some(acked)) => self.finish(&p, acked, false),
                (Plan::Publish(_), None) => Err(JetStreamError::request("append", "not sent")),
            })
            .collect())
    }

    /// What an append of `events` at `expected_version` sends, or its answer when the
    /// conversation is elsewhere already (a retry of its last decision, or a conflict).
    fn plan(
        &self,
        conversation: &ConversationId,
        expected_version: u64,
        events: &[Event],
        fence: Option<&u64>,
    ) -> Result<Plan, JetStreamError> {
        let first = events.first().ok_or(JetStreamError::Empty)?.id;
        let after = expected_version + events.len() as u64;
        let cached = self.tips().get(conversation).copied();
        let tip = match cached {
            Some(t) if t.version == expected_version => t,
            // A conversation never seen: sent as new, without asking. The server checks the
            // expectation (no message on the subject yet) and refuses it otherwise; `finish`
            // then asks and answers a retry or a conflict.
            None if expected_version == 0 => Tip::default(),
            _ => self.fetch_tip(conversation)?,
        };
        if tip.version != expected_version {
            return Ok(Plan::Settled(self.settle(
                conversation,
                expected_version,
                after,
                first,
                tip,
            )));
        }
        let (p, subject) = self.subject(conversation);
        let record = encode_record(expected_version, events)?;
        let mut message = jetstream::message::PublishMessage::build()
            .payload(Bytes::from(record))
            .message_id(first.0.to_string())
            .expected_last_subject_sequence(tip.sequence)
            .header(POSITION, expected_version.to_string().as_str())
            .header(VERSION, after.to_string().as_str())
            .header(FIRST_EVENT, first.0.to_string().as_str());
        if let Some(last) = fence {
            message = message.expected_last_sequence(*last);
        }
        Ok(Plan::Publish(Planned {
            conversation: conversation.clone(),
            partition: p as u32,
            subject,
            message,
            expected_version,
            after,
            first,
        }))
    }

    /// The answer to a published append, from the server's acknowledgement or refusal.
    fn finish(
        &self,
        p: &Planned,
        acked: Result<jetstream::publish::PublishAck, jetstream::context::PublishError>,
        fenced: bool,
    ) -> Result<Appended, JetStreamError> {
        match acked {
            Ok(ack) if ack.duplicate => {
                // The server had this message id: an earlier attempt was stored. Say where.
                let tip = self.fetch_tip(&p.conversation)?;
                self.settle(&p.conversation, p.expected_version, p.after, p.first, tip)
            }
            Ok(ack) => {
                self.tips().insert(
                    p.conversation.clone(),
                    Tip {
                        version: p.after,
                        sequence: ack.sequence,
                        first_event: Some(p.first),
                    },
                );
                Ok(Appended {
                    version: p.after,
                    sequence: ack.sequence,
                    duplicate: false,
                })
            }
            Err(e) if wrong_last_sequence(&e) => {
                let tip = self.fetch_tip(&p.conversation)?;
                match self.settle(&p.conversation, p.expected_version, p.after, p.first, tip) {
                    // Not a retry, and the partition or the conversation moved past what its
                    // owner knew: only another owner appends to an owned partition.
                    Err(JetStreamError::Conflict { .. }) if fenced => Err(JetStreamError::Fenced {
                        partition: p.partition,
                    }),
                    settled => settled,
                }
            }
            Err(e) => {
                // Unknown outcome: forget the tip, so the retry asks the server.
                self.tips().remove(&p.conversation);
                Err(JetStreamError::request("append", e))
            }
        }
    }

    /// The conversation is not at `expected_version`: the append is a retry of the decision
    /// the server holds last (`duplicate`), or a conflict.
    fn settle(
        &self,
        conversation: &ConversationId,
        expected_version: u64,
        after: u64,
        first: EventId,
        tip: Tip,
    ) -> Result<Appended, JetStreamError> {
        if tip.version == after && tip.first_event == Some(first) {
            // Stored already (an earlier attempt), by this or another process.
            return Ok(Appended {
                version: after,
                sequence: tip.sequence,
                duplicate: true,
            });
        }
        Err(JetStreamError::Conflict {
            conversation: conversation.clone(),
            expected: expected_version,
            actual: tip.version,
        })
    }

    /// Records the no-op `command` in partition `p`, fenced at `last` (the partition's last
    /// sequence as its owner knows it, moved on success). A retry is dropped by the server
    /// (the message id names the command).
    pub(crate) fn append_noop_fenced(
        &self,
        p: u32,
        command: CommandId,
        last: &mut u64,
    ) -> Result<(), JetStreamError> {
        let mut rechecks = 0;
        loop {
            let message = jetstream::message::PublishMessage::build()
                .payload(Bytes::from(encode_noop(command)))
                .message_id(format!("noop-{}", command.0))
                .expected_last_sequence(*last);
            let acked = self.runtime.block_on(async {
                self.context
                    .send_publish(noop_subject(&self.prefix, p), message)
                    .await?
                    .await
            });
            return match acked {
                Ok(ack) => {
                    if ack.sequence > *last {
                        *last = ack.sequence;
                    }
                    Ok(())
                }
                Err(e) if wrong_last_sequence(&e) => {
                    if self.noop_at(p, *last + 1, command)? {
                        // Stored by an earlier attempt whose answer was lost.
                        *last += 1;
                        return Ok(());
                    }
                    if rechecks < FENCE_RECHECKS && !self.moved_past(p, *last)? {
                        // Refused before the previous message was applied: as in
                        // `append_fenced`, sent again.
                        rechecks += 1;
                        std::thread::sleep(Duration::from_millis(5 * u64::from(rechecks)));
                        continue;
                    }
                    Err(JetStreamError::Fenced { partition: p })
                }
                Err(e) => Err(JetStreamError::request("record a no-op", e)),
            };
        }
    }

    /// Whether the message at `sequence` of partition `p` is the no-op record of `command`.
    fn noop_at(&self, p: u32, sequence: u64, command: CommandId) -> Result<bool, JetStreamError> {
        let stream = self.partition_stream(p)?;
        match self.runtime.block_on(stream.direct_get(sequence)) {
            Ok(m) if m.subject.as_str().rsplit('.').next() == Some(NOOP_TOKEN) => {
                Ok(decode_noop(&m.payload, sequence)? == command)
            }
            Ok(_) => Ok(false),
            Err(e) if e.kind() == stream::DirectGetErrorKind::NotFound => Ok(false),
            Err(e) => Err(JetStreamError::request("read a message", e)),
        }
    }

    /// Remembers a conversation's last message as a replay found it, so the next append to it
    /// needs no request to learn where the conversation ends.
    pub(crate) fn note_tip(
        &self,
        conversation: &ConversationId,
        version: u64,
        sequence: u64,
        first_event: EventId,
    ) {
        self.tips().insert(
            conversation.clone(),
            Tip {
                version,
                sequence,
                first_event: Some(first_event),
            },
        );
    }

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

    /// The last sequence of partition `p`'s stream (0 when empty).
    pub fn partition_head(&self, p: u32) -> Result<u64, JetStreamError> {
        let stream = self.partition_stream(p)?;
        let info = self
            .runtime
            .block_on(stream.get_info())
            .map_err(|e| JetStreamError::request("read a partition's info", e))?;
        Ok(info.state.last_sequence)
    }

    /// The name of the server leading partition `p`'s stream (`None` without a cluster, or
    /// while a leader is being elected).
    pub fn partition_leader(&self, p: u32) -> Result<Option<String>, JetStreamError> {
        let stream = self.partition_stream(p)?;
        let info = self
            .runtime
            .block_on(stream.get_info())
            .map_err(|e| JetStreamError::request("read a partition's info", e))?;
        Ok(info.cluster.and_then(|c| c.leader))
    }

    fn partition_stream(&self, p: u32) -> Result<&stream::Stream, JetStreamError> {
        self.streams.get(p as usize).ok_or_else(|| {
            JetStreamError::Store(StoreError::corrupt(0, format!("no partition {p}")))
        })
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

    /// Stores a checkpoint entry (a cache: the log stays the truth).
    pub fn put_checkpoint(&self, key: &[u8], value: Vec<u8>) -> Result<(), JetStreamError> {
        self.runtime
            .block_on(self.checkpoints.put(kv_key(key), Bytes::from(value)))
            .map_err(|e| JetStreamError::request("write a checkpoint", e))?;
        Ok(())
    }

    /// A stored checkpoint entry.
    pub fn get_checkpoint(&self, key: &[u8]) -> Result<Option<Vec<u8>>, JetStreamError> {
        let got = self
            .runtime
            .block_on(self.checkpoints.get(kv_key(key)))
            .map_err(|e| JetStreamError::request("read a checkpoint", e))?;
        Ok(got.map(|b| b.to_vec()))
    }

    /// Tries to delete a stored message: the streams deny it (a log is never shortened), so
    /// this says `Err`. For the tests that check the streams' configuration.
    pub fn try_delete(&self, p: u32, sequence: u64) -> Result<bool, JetStreamError> {
        let stream = self.partition_stream(p)?;
        self.runtime
            .block_on(stream.delete_message(sequence))
            .map_err(|e| JetStreamError::request("delete a message", e))
    }
}

fn header(m: &jetstream::message::StreamMessage, name: &str) -> Result<u64, JetStreamError> {
    m.headers
        .get(name)
        .and_then(|v| v.as_str().parse().ok())
        .ok_or_else(|| {
            StoreError::corrupt(m.sequence, format!("message without a valid {name} header")).into()
        })
}

/// The conversation's tip from its last message, taken from the checksummed record (the
/// version it starts at, checked against the record, its events and the first's id), not from
/// the headers: a retry is recognised, or refused, on what the record says.
fn tip_of(m: &jetstream::message::StreamMessage) -> Result<Tip, JetStreamError> {
    let position = header(m, POSITION)?;
    let events = decode_record(&m.payload, position)?;
    Ok(Tip {
        version: position + events.len() as u64,
        sequence: m.sequence,
        first_event: events.first().map(|e| e.id),
    })
}

/// Connects and opens (or creates) the partition count, the streams and the buckets.
#[allow(clippy::type_complexity)]
async fn open(
    options: &JetStreamOptions,
    create: bool,
) -> Result<
    (
        jetstream::Context,
        Vec<stream::Stream>,
        kv::Store,
        kv::Store,
    ),
    JetStreamError,
> {
    // Several servers of one cluster may be given, comma-separated: the client fails over.
    let addrs = options
        .url
        .split(',')
        .map(|u| u.trim().parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| JetStreamError::Connect {
            url: options.url.clone(),
            reason: e.to_string(),
        })?;
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(addrs)
        .await
        .map_err(|e| JetStreamError::Connect {
            url: options.url.clone(),
            reason: e.to_string(),
        })?;
    let context = jetstream::new(client);
    let bucket = |name: &str| kv::Config {
        bucket: format!("{}-{name}", options.prefix),
        history: 1,
        storage: stream::StorageType::File,
        num_replicas: options.replicas,
        ..Default::default()
    };
    let no_log = || JetStreamError::NoLog {
        prefix: options.prefix.clone(),
    };
    let meta = if create {
        context
            .create_key_value(bucket("meta"))
            .await
            .map_err(|e| JetStreamError::request("create the meta bucket", e))?
    } else {
        context
            .get_key_value(format!("{}-meta", options.prefix))
            .await
            .map_err(|_| no_log())?
    };
    let asked = options.partitions.max(1);
    let created = if create {
        meta.create(PARTITIONS_KEY, Bytes::from(asked.to_string()))
            .await
    } else {
        Err(kv::CreateError::new(kv::CreateErrorKind::AlreadyExists))
    };
    let stored = match created {
        Ok(_) => asked,
        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
            let bytes = meta
                .get(PARTITIONS_KEY)
                .await
                .map_err(|e| JetStreamError::request("read the partition count", e))?
                .ok_or_else(no_log)?;
            std::str::from_utf8(&bytes)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| StoreError::corrupt(0, "the stored partition count is unreadable"))?
        }
        Err(e) => return Err(JetStreamError::request("record the partition count", e)),
    };
    if create && stored != asked {
        return Err(JetStreamError::PartitionsMismatch { stored, asked });
    }
    let mut streams = Vec::with_capacity(stored as usize);
    for p in 0..stored {
        let config = stream::Config {
            name: stream_name(&options.prefix, p),
            subjects: vec![stream_subjects(&options.prefix, p)],
            storage: stream::StorageType::File,
            num_replicas: options.replicas,
            duplicate_window: options.duplicate_window,
            deny_delete: true,
            deny_purge: true,
            allow_direct: true,
            ..Default::default()
        };
        let s = if create {
            context
                .get_or_create_stream(config)
                .await
                .map_err(|e| JetStreamError::request("create a partition's stream", e))?
        } else {
            context
                .get_stream(config.name)
                .await
                .map_err(|e| JetStreamError::request("open a partition's stream", e))?
        };
        streams.push(s);
    }
    let kv_bucket = |name: &'static str| {
        let config = bucket(name);
        let context = context.clone();
        async move {
            if create {
                context
                    .create_key_value(config)
                    .await
                    .map_err(|e| JetStreamError::request("create a bucket", e))
            } else {
                context
                    .get_key_value(config.bucket)
                    .await
                    .map_err(|e| JetStreamError::request("open a bucket", e))
            }
        }
    };
    let checkpoints = kv_bucket("checkpoints").await?;
    let leases = kv_bucket("leases").await?;
    Ok((context, streams, checkpoints, leases))
}
