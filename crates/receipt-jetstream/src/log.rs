//! The log on JetStream: P streams (one per partition, fixed when the log is created and
//! recorded in the cluster), one subject per conversation, one message per decision carrying
//! the project's checksummed record of its events.
//!
//! A conversation's version is its number of events, as in the sled log. Each message says the
//! version before it (`Receipts-Position`, checked against the position inside the checksummed
//! record), so a conversation's version is one read (from the stream's leader) of its subject's last message and a
//! decode of its record. (`Receipts-Version` and `Receipts-First-Event` are written for people
//! reading the stream with the `nats` tool; the log never trusts them.) An append publishes with `Nats-Expected-Last-Subject-Sequence` (the server refuses
//! it if anything was appended to the conversation since it was decided) and `Nats-Msg-Id` (its
//! first event's id: a retry within the stream's duplicate window is dropped by the server); a
//! retry that arrives after its own append is recognised by reading the subject's last message.

use crate::error::JetStreamError;
use crate::identity::{find_stream, high_water, raise_high_water, settle_streams, Opening};
use crate::naming::{kv_key, partition_of, stream_name, stream_subjects, subject_of};
use async_nats::jetstream::{self, kv, stream};
use bytes::Bytes;
use receipt_domain::{ConversationId, EventId};
use receipt_store::wire::decode_record;
use receipt_store::StoreError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

pub(crate) const POSITION: &str = "Receipts-Position";
pub(crate) const VERSION: &str = "Receipts-Version";
pub(crate) const FIRST_EVENT: &str = "Receipts-First-Event";
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
    /// How long an append (and each read it rests on: a conversation's last message, a
    /// partition's end) waits for its answer before counting it lost, and an owner sends it
    /// again: bounds how long an election keeps commands waiting past its end. Other requests
    /// keep the client's timeouts.
    pub append_timeout: Duration,
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
            append_timeout: Duration::from_secs(2),
        }
    }

    /// With another timeout for appends (2 s by default).
    pub fn with_append_timeout(mut self, timeout: Duration) -> Self {
        self.append_timeout = timeout;
        self
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

/// The last message of a conversation's subject, as far as an append needs it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Tip {
    pub(crate) version: u64,
    pub(crate) sequence: u64,
    pub(crate) first_event: Option<EventId>,
}

/// The receipt log on a JetStream server or cluster. Blocking: it runs its client on a runtime
/// of its own.
pub struct JetStreamLog {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) context: jetstream::Context,
    pub(crate) streams: Vec<stream::Stream>,
    /// The partition count, the streams' identities and the high-water marks (src/identity.rs).
    pub(crate) meta: kv::Store,
    checkpoints: kv::Store,
    pub(crate) leases: kv::Store,
    pub(crate) prefix: String,
    url: String,
    /// Each conversation's last message, as this process last saw or wrote it.
    tips: Mutex<HashMap<ConversationId, Tip>>,
    append_timeout: Duration,
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
        let opened = runtime.block_on(open(options, create))?;
        Ok(Self {
            runtime,
            context: opened.context,
            streams: opened.streams,
            meta: opened.meta,
            checkpoints: opened.checkpoints,
            leases: opened.leases,
            prefix: options.prefix.clone(),
            url: options.url.clone(),
            tips: Mutex::new(HashMap::new()),
            append_timeout: options.append_timeout,
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

    pub(crate) fn subject(&self, conversation: &ConversationId) -> (usize, String) {
        let p = self.partition(conversation);
        (p as usize, subject_of(&self.prefix, p, conversation))
    }

    pub(crate) fn tips(&self) -> std::sync::MutexGuard<'_, HashMap<ConversationId, Tip>> {
        self.tips
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `request` on the log's runtime for at most the append timeout: `None` if it has
    /// not answered by then (its outcome unknown).
    pub(crate) fn bounded<T>(&self, request: impl std::future::Future<Output = T>) -> Option<T> {
        self.runtime.block_on(async {
            tokio::time::timeout(self.append_timeout, request)
                .await
                .ok()
        })
    }

    /// The conversation's last message as the server has it.
    ///
    /// Read from the stream's leader, not with a direct get: a direct get may be answered by a
    /// replica that lags (after a leader change, say), and an append decided or settled on a
    /// tip older than the leader's would be refused, or a stored retry taken for a conflict (a
    /// spurious `Fenced`, seen once in CI on the 3-node cluster right after the leader's kill).
    pub(crate) fn fetch_tip(&self, conversation: &ConversationId) -> Result<Tip, JetStreamError> {
        let (p, subject) = self.subject(conversation);
        let got = self
            .bounded(self.streams[p].get_last_raw_message_by_subject(&subject))
            .ok_or_else(|| JetStreamError::request("read the conversation's tip", "timed out"))?;
        let tip = match got {
            Ok(m) => tip_of(&m)?,
            Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => Tip::default(),
            Err(e) => return Err(JetStreamError::request("read the conversation's tip", e)),
        };
        self.tips().insert(conversation.clone(), tip);
        Ok(tip)
    }

    /// The conversation's version: its number of events.
    pub fn version(&self, conversation: &ConversationId) -> Result<u64, JetStreamError> {
        Ok(self.fetch_tip(conversation)?.version)
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

    /// The last sequence of partition `p`'s stream (0 when empty).
    pub fn partition_head(&self, p: u32) -> Result<u64, JetStreamError> {
        let stream = self.partition_stream(p)?;
        let info = self
            .bounded(stream.get_info())
            .ok_or_else(|| JetStreamError::request("read a partition's info", "timed out"))?
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

    /// Partition `p`'s high-water mark: a sequence known to have been stored (0 when none is
    /// recorded). The stream must not end before it.
    pub fn high_water_mark(&self, p: u32) -> Result<u64, JetStreamError> {
        self.bounded(high_water(&self.meta, p))
            .ok_or_else(|| JetStreamError::request("read a high-water mark", "timed out"))?
    }

    /// Raises partition `p`'s high-water mark to `sequence` (never lowers it).
    pub(crate) fn raise_high_water_mark(
        &self,
        p: u32,
        sequence: u64,
    ) -> Result<(), JetStreamError> {
        self.bounded(raise_high_water(&self.meta, p, sequence))
            .ok_or_else(|| JetStreamError::request("raise a high-water mark", "timed out"))?
    }

    /// Partition `p`'s last sequence, checked against its high-water mark and against
    /// `acknowledged` (a sequence the caller knows was stored, 0 for none).
    pub(crate) fn checked_head(&self, p: u32, acknowledged: u64) -> Result<u64, JetStreamError> {
        let head = self.partition_head(p)?;
        let acknowledged = acknowledged.max(self.high_water_mark(p)?);
        if head < acknowledged {
            return Err(JetStreamError::PartitionShortened {
                partition: p,
                head,
                acknowledged,
            });
        }
        Ok(head)
    }

    pub(crate) fn partition_stream(&self, p: u32) -> Result<&stream::Stream, JetStreamError> {
        self.streams.get(p as usize).ok_or_else(|| {
            JetStreamError::Store(StoreError::corrupt(0, format!("no partition {p}")))
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

pub(crate) fn header(
    m: &jetstream::message::StreamMessage,
    name: &str,
) -> Result<u64, JetStreamError> {
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
pub(crate) fn tip_of(m: &jetstream::message::StreamMessage) -> Result<Tip, JetStreamError> {
    let position = header(m, POSITION)?;
    let events = decode_record(&m.payload, position)?;
    Ok(Tip {
        version: position + events.len() as u64,
        sequence: m.sequence,
        first_event: events.first().map(|e| e.id),
    })
}

/// What [`open`] connected to.
struct Opened {
    context: jetstream::Context,
    streams: Vec<stream::Stream>,
    meta: kv::Store,
    checkpoints: kv::Store,
    leases: kv::Store,
}

/// Connects and opens (or creates) the partition count, the streams and the buckets.
async fn open(options: &JetStreamOptions, create: bool) -> Result<Opened, JetStreamError> {
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
        match context
            .get_key_value(format!("{}-meta", options.prefix))
            .await
        {
            Ok(meta) => meta,
            // No meta bucket: no log, unless its first stream is there (every log has one).
            Err(_) => {
                let first = stream_name(&options.prefix, 0);
                return Err(match find_stream(&context, &first).await? {
                    Some(s) => JetStreamError::MetaMissing {
                        prefix: options.prefix.clone(),
                        messages: s.cached_info().state.messages,
                        stream: first,
                    },
                    None => no_log(),
                });
            }
        }
    };
    let asked = options.partitions.max(1);
    let created = if create {
        meta.create(PARTITIONS_KEY, Bytes::from(asked.to_string()))
            .await
    } else {
        Err(kv::CreateError::new(kv::CreateErrorKind::AlreadyExists))
    };
    let fresh = created.is_ok();
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
    let opening = Opening {
        context: &context,
        meta: &meta,
        prefix: &options.prefix,
        partitions: stored,
        create,
        fresh,
    };
    let streams = settle_streams(&opening, |p| stream::Config {
        name: stream_name(&options.prefix, p),
        subjects: vec![stream_subjects(&options.prefix, p)],
        storage: stream::StorageType::File,
        num_replicas: options.replicas,
        duplicate_window: options.duplicate_window,
        deny_delete: true,
        deny_purge: true,
        allow_direct: true,
        ..Default::default()
    })
    .await?;
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
    Ok(Opened {
        context,
        streams,
        meta,
        checkpoints,
        leases,
    })
}
