//! What the log's meta bucket records so that no loss of a stream passes for a short history:
//! each partition stream's identity (when the server created it) and each partition's
//! high-water mark (a sequence known to have been stored).
//!
//! Keys of `{prefix}-meta` besides `partitions`:
//!
//! ```text
//! p<n>.created   the creation time of partition n's stream, Unix nanoseconds (decimal)
//! p<n>.head      a sequence of partition n known to be stored (decimal; only ever raised)
//! layout         "2" once every stream's identity is recorded
//! ```
//!
//! A stream that is deleted and made again (by hand or by any tool) has another creation time;
//! the log never creates a stream once `layout` is written; a stream that ends before its
//! high-water mark lost acknowledged messages. Owners raise the mark when they take a
//! partition and at every lease renewal and release (src/engine.rs), so it trails the
//! partition's end by at most a third of a lease.

use crate::error::JetStreamError;
use crate::naming::stream_name;
use async_nats::jetstream::{self, kv, stream};
use bytes::Bytes;

const LAYOUT_KEY: &str = "layout";
const LAYOUT: &str = "2";
/// How often raising a mark is tried again when another writer raced it.
const RAISE_ATTEMPTS: u32 = 8;

fn created_key(p: u32) -> String {
    format!("p{p}.created")
}

fn head_key(p: u32) -> String {
    format!("p{p}.head")
}

/// A stream's identity: its creation time in Unix nanoseconds.
fn identity(info: &stream::Info) -> String {
    info.created.unix_timestamp_nanos().to_string()
}

fn parse_u64(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

async fn get(meta: &kv::Store, key: &str) -> Result<Option<Bytes>, JetStreamError> {
    meta.get(key)
        .await
        .map_err(|e| JetStreamError::request("read the meta bucket", e))
}

/// Partition `p`'s stream if the server has it.
pub(crate) async fn find_stream(
    context: &jetstream::Context,
    name: &str,
) -> Result<Option<stream::Stream>, JetStreamError> {
    match context.get_stream(name).await {
        Ok(s) => Ok(Some(s)),
        Err(e)
            if matches!(e.kind(), jetstream::context::GetStreamErrorKind::JetStream(ref j)
                if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND) =>
        {
            Ok(None)
        }
        Err(e) => Err(JetStreamError::request("open a partition's stream", e)),
    }
}

/// What [`settle_streams`] needs to know about the log being opened.
pub(crate) struct Opening<'a> {
    pub context: &'a jetstream::Context,
    pub meta: &'a kv::Store,
    pub prefix: &'a str,
    pub partitions: u32,
    /// Whether this opening may create what is missing (`JetStreamLog::connect`).
    pub create: bool,
    /// Whether this opening recorded the partition count: the log is new.
    pub fresh: bool,
}

/// The partitions' streams, each checked against the identity the meta bucket records for it;
/// made (with `config`) only while the log is being created: before `layout` is written, and
/// only while no stream of the log holds a message.
pub(crate) async fn settle_streams(
    at: &Opening<'_>,
    config: impl Fn(u32) -> stream::Config,
) -> Result<Vec<stream::Stream>, JetStreamError> {
    let mut found = Vec::with_capacity(at.partitions as usize);
    for p in 0..at.partitions {
        found.push(find_stream(at.context, &stream_name(at.prefix, p)).await?);
    }
    let holding = found
        .iter()
        .flatten()
        .map(|s| {
            (
                s.cached_info().config.name.clone(),
                s.cached_info().state.messages,
            )
        })
        .find(|(_, messages)| *messages > 0);
    if let (true, Some((stream, messages))) = (at.fresh, &holding) {
        // The partition count was just recorded, yet the streams hold a history: the meta
        // bucket was deleted (and made again by this opening). The bucket this opening made
        // is deleted again, so that the next opening finds the same loss rather than a log
        // whose streams it would adopt.
        let _ = at
            .context
            .delete_key_value(format!("{}-meta", at.prefix))
            .await;
        return Err(JetStreamError::MetaMissing {
            prefix: at.prefix.to_string(),
            stream: stream.clone(),
            messages: *messages,
        });
    }
    let complete = get(at.meta, LAYOUT_KEY).await?.is_some();
    let mut streams = Vec::with_capacity(found.len());
    for (p, stream) in (0..at.partitions).zip(found) {
        let name = stream_name(at.prefix, p);
        let recorded = get(at.meta, &created_key(p)).await?;
        let stream = match (stream, recorded) {
            (Some(s), Some(r)) => {
                let found = identity(s.cached_info());
                if r != found.as_bytes() {
                    return Err(JetStreamError::StreamReplaced {
                        partition: p,
                        stream: name,
                        recorded: String::from_utf8_lossy(&r).into_owned(),
                        found,
                    });
                }
                s
            }
            (Some(s), None) if complete => {
                return Err(JetStreamError::StreamReplaced {
                    partition: p,
                    stream: name,
                    recorded: "nothing (its record in the meta bucket was deleted)".into(),
                    found: identity(s.cached_info()),
                })
            }
            // A log of an earlier version (no identities recorded) or a creation interrupted
            // before it recorded this one: adopted, when this opening may write.
            (Some(s), None) => {
                if at.create {
                    record_identity(at.meta, p, &s).await?;
                }
                s
            }
            (None, Some(_)) => {
                return Err(JetStreamError::StreamMissing {
                    partition: p,
                    stream: name,
                })
            }
            (None, None) if complete || !at.create || holding.is_some() => {
                return Err(JetStreamError::StreamMissing {
                    partition: p,
                    stream: name,
                })
            }
            // The log is being created (by this opening, or by one that was interrupted, or
            // by another running now: creating a stream twice with one config is one stream).
            (None, None) => {
                let s = at
                    .context
                    .get_or_create_stream(config(p))
                    .await
                    .map_err(|e| JetStreamError::request("create a partition's stream", e))?;
                record_identity(at.meta, p, &s).await?;
                s
            }
        };
        streams.push(stream);
    }
    if at.create && !complete {
        at.meta
            .put(LAYOUT_KEY, Bytes::from_static(LAYOUT.as_bytes()))
            .await
            .map_err(|e| JetStreamError::request("record the log's layout", e))?;
    }
    Ok(streams)
}

/// Records stream `s` as partition `p`'s; if another opening recorded one first, it must be
/// this stream.
async fn record_identity(
    meta: &kv::Store,
    p: u32,
    s: &stream::Stream,
) -> Result<(), JetStreamError> {
    let found = identity(s.cached_info());
    match meta
        .create(created_key(p), Bytes::from(found.clone()))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
            let recorded = get(meta, &created_key(p)).await?.unwrap_or_default();
            if recorded == found.as_bytes() {
                Ok(())
            } else {
                Err(JetStreamError::StreamReplaced {
                    partition: p,
                    stream: s.cached_info().config.name.clone(),
                    recorded: String::from_utf8_lossy(&recorded).into_owned(),
                    found,
                })
            }
        }
        Err(e) => Err(JetStreamError::request("record a stream's identity", e)),
    }
}

/// Partition `p`'s high-water mark (0 when none is recorded).
pub(crate) async fn high_water(meta: &kv::Store, p: u32) -> Result<u64, JetStreamError> {
    Ok(get(meta, &head_key(p))
        .await?
        .as_deref()
        .and_then(parse_u64)
        .unwrap_or(0))
}

/// Raises partition `p`'s high-water mark to `sequence` (a mark already past it stays).
pub(crate) async fn raise_high_water(
    meta: &kv::Store,
    p: u32,
    sequence: u64,
) -> Result<(), JetStreamError> {
    let key = head_key(p);
    let value = || Bytes::from(sequence.to_string());
    for _ in 0..RAISE_ATTEMPTS {
        let entry = meta
            .entry(key.clone())
            .await
            .map_err(|e| JetStreamError::request("read a high-water mark", e))?;
        // Another writer changing the entry between the read and the write: read it again.
        match entry {
            Some(e) if e.operation == kv::Operation::Put => {
                if parse_u64(&e.value).is_some_and(|mark| mark >= sequence) {
                    return Ok(());
                }
                match meta.update(&key, value(), e.revision).await {
                    Ok(_) => return Ok(()),
                    Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {}
                    Err(e) => return Err(JetStreamError::request("raise a high-water mark", e)),
                }
            }
            _ => match meta.create(&key, value()).await {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {}
                Err(e) => return Err(JetStreamError::request("raise a high-water mark", e)),
            },
        }
    }
    Err(JetStreamError::request(
        "raise a high-water mark",
        "other writers kept changing it",
    ))
}
