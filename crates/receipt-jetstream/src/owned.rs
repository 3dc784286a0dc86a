//! What an engine process owns on JetStream: the options it takes its partitions with, and
//! its leases as the Engine's log of record (each decision appended fenced by its partition's
//! lease, a lost answer sent again, no-ops recorded).

use crate::error::JetStreamError;
use crate::log::JetStreamLog;
use crate::ownership::Lease;
use receipt_engine::store::{AppendRequest, LogOfRecord, StoreError};
use receipt_engine::{CommandId, ConversationId};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Which partitions an engine process takes, and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ownership {
    /// This process's id in the leases (unique per process: a host name and a pid, say).
    pub owner: String,
    /// The partitions to own; `None`: every partition of the log.
    pub partitions: Option<Vec<u32>>,
    /// How long a lease lasts unless renewed (the process renews every third of it). Also how
    /// long the partitions of a process that died stay without an owner.
    pub lease_ttl_ms: u64,
    /// How long opening waits for a lease another process holds to run out (0: not at all,
    /// the open fails with [`JetStreamError::LeaseHeld`]).
    pub wait_for_lease_ms: u64,
    /// How long an append whose answer was lost (a timeout, a leader election) is sent again
    /// before the engine gives up and stops (20 s: a leader election here takes 5–10 s).
    pub retry_lost_answers_ms: u64,
}

impl Ownership {
    /// Every partition, as `owner`, with a 10 s lease and no waiting.
    pub fn all(owner: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            partitions: None,
            lease_ttl_ms: 10_000,
            wait_for_lease_ms: 0,
            retry_lost_answers_ms: 20_000,
        }
    }

    /// The given partitions, as `owner`, with a 10 s lease and no waiting.
    pub fn of(owner: impl Into<String>, partitions: impl IntoIterator<Item = u32>) -> Self {
        Self {
            partitions: Some(partitions.into_iter().collect()),
            ..Self::all(owner)
        }
    }

    /// Sets the lease's time to live.
    pub fn with_lease_ttl_ms(mut self, ms: u64) -> Self {
        self.lease_ttl_ms = ms;
        self
    }

    /// Sets how long an append whose answer was lost is sent again.
    pub fn with_retry_lost_answers_ms(mut self, ms: u64) -> Self {
        self.retry_lost_answers_ms = ms;
        self
    }

    /// Sets how long opening waits for leases held by others.
    pub fn with_wait_for_lease_ms(mut self, ms: u64) -> Self {
        self.wait_for_lease_ms = ms;
        self
    }
}

/// What opening read from JetStream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replayed {
    /// Partitions owned and replayed.
    pub partitions: usize,
    /// Decisions (JetStream messages) read.
    pub decisions: u64,
    /// Events read.
    pub events: u64,
    /// Time to read them from the server into the replica.
    pub replay: Duration,
    /// Time for the Engine to fold the replica.
    pub fold: Duration,
}

/// The leases this process holds, as the Engine's log of record.
pub(crate) struct Owned {
    pub(crate) log: Arc<JetStreamLog>,
    pub(crate) leases: BTreeMap<u32, Lease>,
    pub(crate) retry_lost_answers: Duration,
}

impl Owned {
    fn remote(&self, e: JetStreamError) -> StoreError {
        StoreError::Remote {
            kind: e.kind(),
            location: self.log.location(),
            error: Box::new(e),
        }
    }

    pub(crate) fn lease_for(&self, conversation: &ConversationId) -> Result<&Lease, StoreError> {
        let partition = self.log.partition(conversation);
        self.leases.get(&partition).ok_or_else(|| {
            self.remote(JetStreamError::NotOwned {
                conversation: conversation.clone(),
                partition,
            })
        })
    }
}

impl LogOfRecord for Owned {
    fn accepts(&self, conversation: &ConversationId) -> Result<(), StoreError> {
        self.lease_for(conversation).map(|_| ())
    }

    fn append(&self, requests: &[AppendRequest]) -> Result<(), StoreError> {
        // One after another: each is fenced at the partition's last sequence, which the
        // previous one of the same partition moves.
        for r in requests {
            let lease = self.lease_for(&r.conversation)?;
            self.log
                .append_owned_retrying(
                    lease,
                    &r.conversation,
                    r.expected_version,
                    &r.events,
                    self.retry_lost_answers,
                )
                .map_err(|e| self.remote(e))?;
        }
        Ok(())
    }

    fn record_noop(
        &self,
        conversation: &ConversationId,
        command: CommandId,
    ) -> Result<(), StoreError> {
        let lease = self.lease_for(conversation)?;
        self.log
            .record_noop_owned(lease, conversation, command, self.retry_lost_answers)
            .map_err(|e| self.remote(e))
    }

    fn location(&self) -> String {
        self.log.location()
    }
}
