//! Ownership: one engine process writes a partition at a time.
//!
//! A lease is a KV entry per partition (`{prefix}-leases`, key `p{n}`: the owner's id and when
//! the lease ends), taken and renewed with compare-and-set on the entry's revision. The lease
//! only says who *should* write; safety comes from the fence: an owner appends with
//! `Nats-Expected-Last-Sequence` set to the partition stream's last sequence as it knows it, so
//! once another owner has appended anything to the partition, every append of the old owner is
//! refused by the server ([`JetStreamError::Fenced`]), whatever its clock or its view of the
//! lease. Expiry uses the processes' clocks: a skew shorter than the lease lets a new owner in a
//! little early or late, never two writers at once.

use crate::error::JetStreamError;
use crate::log::JetStreamLog;
use crate::log_append::Appended;
use async_nats::jetstream::kv;
use bytes::Bytes;
use receipt_domain::{CommandId, ConversationId, Event};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// This process's ownership of one partition: the right to append to it while the fence holds.
#[derive(Debug)]
pub struct Lease {
    partition: u32,
    owner: String,
    ttl: Duration,
    /// The lease entry's revision as this owner last wrote it.
    revision: Mutex<u64>,
    /// The partition stream's last sequence as this owner knows it (held while appending, so
    /// this process's own appends to the partition take their turns).
    last_sequence: Mutex<u64>,
    /// The last sequence this owner knows stored, for the partition's high-water mark: read
    /// without waiting for an append that holds `last_sequence`.
    stored: AtomicU64,
}

impl Lease {
    /// The partition.
    pub fn partition(&self) -> u32 {
        self.partition
    }

    /// The owner's id.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The partition stream's last sequence as this owner knows it: everything up to it is in
    /// the owner's replica once its appends have returned.
    pub(crate) fn last_sequence(&self) -> u64 {
        *self
            .last_sequence
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn lease_key(p: u32) -> String {
    format!("p{p}")
}

/// `owner` then the end of the lease (Unix ms), on two lines.
fn lease_value(owner: &str, expires_at_ms: u64) -> Bytes {
    Bytes::from(format!("{owner}\n{expires_at_ms}"))
}

fn parse_lease(bytes: &[u8]) -> Option<(String, u64)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (owner, expires) = text.split_once('\n')?;
    Some((owner.to_string(), expires.parse().ok()?))
}

impl JetStreamLog {
    /// Takes partition `p` for `owner` for `ttl` (renew before it ends): refused with
    /// [`JetStreamError::LeaseHeld`] while another owner's lease runs. The lease starts fenced at
    /// the partition's current end: whatever the previous owner appended before is kept, and
    /// nothing it tries after this owner's first append is accepted. A partition whose stream
    /// ends before its high-water mark is [`JetStreamError::PartitionShortened`].
    pub fn acquire(&self, p: u32, owner: &str, ttl: Duration) -> Result<Lease, JetStreamError> {
        let key = lease_key(p);
        let now = now_ms();
        let value = lease_value(owner, now.saturating_add(ttl.as_millis() as u64));
        let current = self
            .runtime
            .block_on(self.leases.entry(key.clone()))
            .map_err(|e| JetStreamError::request("read a lease", e))?;
        let written = match current {
            None => self
                .runtime
                .block_on(self.leases.create(key, value))
                .map_err(|e| match e.kind() {
                    kv::CreateErrorKind::AlreadyExists => {
                        JetStreamError::LeaseLost { partition: p }
                    }
                    _ => JetStreamError::request("take a lease", e),
                })?,
            Some(entry) => {
                if let Some((holder, expires_at_ms)) = parse_lease(&entry.value) {
                    if holder != owner
                        && expires_at_ms > now
                        && entry.operation == kv::Operation::Put
                    {
                        return Err(JetStreamError::LeaseHeld {
                            partition: p,
                            holder,
                            expires_at_ms,
                        });
                    }
                }
                self.runtime
                    .block_on(self.leases.update(key, value, entry.revision))
                    .map_err(|e| match e.kind() {
                        kv::UpdateErrorKind::WrongLastRevision => {
                            JetStreamError::LeaseLost { partition: p }
                        }
                        _ => JetStreamError::request("take a lease", e),
                    })?
            }
        };
        // The partition must hold what was acknowledged before; from here its mark covers
        // everything stored up to now.
        let checked = self
            .checked_head(p, 0)
            .and_then(|head| self.raise_high_water_mark(p, head).map(|_| head));
        let last_sequence = match checked {
            Ok(head) => head,
            Err(e) => {
                // Given up at once, so the partition's next owner need not wait for it.
                let _ = self.runtime.block_on(self.leases.update(
                    lease_key(p),
                    lease_value(owner, 0),
                    written,
                ));
                return Err(e);
            }
        };
        Ok(Lease {
            partition: p,
            owner: owner.to_string(),
            ttl,
            revision: Mutex::new(written),
            last_sequence: Mutex::new(last_sequence),
            stored: AtomicU64::new(last_sequence),
        })
    }

    /// Extends the lease by its time to live from now, and raises the partition's high-water
    /// mark to what this owner knows stored; [`JetStreamError::LeaseLost`] if another owner
    /// took it (or renewed it) since.
    pub fn renew(&self, lease: &Lease) -> Result<(), JetStreamError> {
        let mut revision = lease
            .revision
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let value = lease_value(
            &lease.owner,
            now_ms().saturating_add(lease.ttl.as_millis() as u64),
        );
        *revision = self
            .runtime
            .block_on(
                self.leases
                    .update(lease_key(lease.partition), value, *revision),
            )
            .map_err(|e| match e.kind() {
                kv::UpdateErrorKind::WrongLastRevision => JetStreamError::LeaseLost {
                    partition: lease.partition,
                },
                _ => JetStreamError::request("renew a lease", e),
            })?;
        drop(revision);
        self.raise_high_water_mark(lease.partition, lease.stored.load(Ordering::Acquire))
    }

    /// Raises the partition's high-water mark to what this owner knows stored, and gives the
    /// partition up now (its lease ends at once), so another process can take it
    /// without waiting for the lease to run out; [`JetStreamError::LeaseLost`] if another
    /// owner had taken it already.
    pub fn release(&self, lease: &Lease) -> Result<(), JetStreamError> {
        // Raised first, so the mark covers this owner's appends before anyone can take over;
        // a failure to raise it does not keep the partition from its next owner.
        let raised =
            self.raise_high_water_mark(lease.partition, lease.stored.load(Ordering::Acquire));
        let mut revision = lease
            .revision
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *revision = self
            .runtime
            .block_on(self.leases.update(
                lease_key(lease.partition),
                lease_value(&lease.owner, 0),
                *revision,
            ))
            .map_err(|e| match e.kind() {
                kv::UpdateErrorKind::WrongLastRevision => JetStreamError::LeaseLost {
                    partition: lease.partition,
                },
                _ => JetStreamError::request("release a lease", e),
            })?;
        raised
    }

    /// Records that `command`, concerning `conversation`, was accepted as a no-op, as the owner
    /// of the conversation's partition (fenced like [`JetStreamLog::append_owned`]).
    ///
    /// A record whose answer is lost is sent again for up to `retry_for`, as in
    /// [`JetStreamLog::append_owned_retrying`] (one stored by an earlier attempt is found at the
    /// partition's next sequence).
    pub fn record_noop_owned(
        &self,
        lease: &Lease,
        conversation: &ConversationId,
        command: CommandId,
        retry_for: Duration,
    ) -> Result<(), JetStreamError> {
        let mut last = self.fence(lease, conversation)?;
        let recorded = resolving(retry_for, || {
            self.append_noop_fenced(lease.partition, command, &mut last)
        });
        lease.stored.fetch_max(*last, Ordering::Release);
        recorded
    }

    /// [`JetStreamLog::append`] as the owner of the conversation's partition: refused with
    /// [`JetStreamError::Fenced`] once another owner has appended to the partition.
    pub fn append_owned(
        &self,
        lease: &Lease,
        conversation: &ConversationId,
        expected_version: u64,
        events: &[Event],
    ) -> Result<Appended, JetStreamError> {
        self.append_owned_retrying(
            lease,
            conversation,
            expected_version,
            events,
            Duration::ZERO,
        )
    }

    /// [`JetStreamLog::append_owned`], sending the same decision again while its answer is lost
    /// (`Request`: a timeout, a leader election), for up to `retry_for`. Each attempt is the same
    /// decision (same events, same message id), so it is stored once: the log recognises one an
    /// earlier attempt stored (the conversation's last record is it), and the fence still
    /// refuses it if another owner appended meanwhile. The partition's fence is held across the
    /// attempts, so this owner's other appends to the partition wait for the outcome rather than
    /// be refused by a fence the lost answer would have moved.
    pub fn append_owned_retrying(
        &self,
        lease: &Lease,
        conversation: &ConversationId,
        expected_version: u64,
        events: &[Event],
        retry_for: Duration,
    ) -> Result<Appended, JetStreamError> {
        let mut last = self.fence(lease, conversation)?;
        let appended = resolving(retry_for, || {
            self.append_fenced(conversation, expected_version, events, Some(&mut last))
        });
        lease.stored.fetch_max(*last, Ordering::Release);
        appended
    }

    /// The lease's fence, held: the partition's last sequence as this owner knows it, which
    /// this owner's appends to the partition take turns on. `WrongPartition` if `conversation`
    /// is in another partition.
    fn fence<'a>(
        &self,
        lease: &'a Lease,
        conversation: &ConversationId,
    ) -> Result<std::sync::MutexGuard<'a, u64>, JetStreamError> {
        if self.partition(conversation) != lease.partition {
            return Err(JetStreamError::WrongPartition {
                conversation: conversation.clone(),
                partition: lease.partition,
            });
        }
        Ok(lease
            .last_sequence
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

/// `attempt` until its answer is not lost (`Request`), for up to `retry_for`, backing off from
/// 50 ms to 1 s between attempts.
fn resolving<T>(
    retry_for: Duration,
    mut attempt: impl FnMut() -> Result<T, JetStreamError>,
) -> Result<T, JetStreamError> {
    let deadline = std::time::Instant::now() + retry_for;
    let mut pause = Duration::from_millis(50);
    loop {
        match attempt() {
            Err(JetStreamError::Request { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            answer => return answer,
        }
    }
}
