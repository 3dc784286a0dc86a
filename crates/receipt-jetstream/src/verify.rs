//! `verify` of a JetStream log: every record read back and checked, each conversation's
//! versions consecutive, every event id once. Reads only.

use crate::error::JetStreamError;
use crate::log::JetStreamLog;
use receipt_domain::{ConversationId, EventId};
use receipt_store::StoreError;
use std::collections::{HashMap, HashSet};

/// What `verify` read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JetStreamVerifyReport {
    /// Partitions (streams) read.
    pub partitions: u32,
    /// Messages (decisions) read.
    pub decisions: u64,
    /// Events in them.
    pub events: u64,
    /// Conversations seen.
    pub conversations: u64,
    /// Accepted no-ops recorded (each checked: its checksum and format).
    pub noops: u64,
}

impl JetStreamLog {
    /// Reads every partition from its start and checks each record (checksum, position),
    /// that each conversation's versions run 1, 2, 3, ... with neither gap nor repeat, that each
    /// conversation is in the partition the frozen function names, and that no event id is
    /// stored twice. `Err` names the first damage.
    pub fn verify(&self) -> Result<JetStreamVerifyReport, JetStreamError> {
        let mut report = JetStreamVerifyReport {
            partitions: self.partitions(),
            ..JetStreamVerifyReport::default()
        };
        let mut versions: HashMap<ConversationId, u64> = HashMap::new();
        let mut ids: HashSet<EventId> = HashSet::new();
        let mut damage: Option<StoreError> = None;
        for p in 0..self.partitions() {
            let mut last_sequence = 0;
            let mut noops = 0u64;
            self.replay_partition_with(
                p,
                1,
                |c, e| {
                    if damage.is_some() {
                        return;
                    }
                    let at = e.sequence;
                    if self.partition(c) != p {
                        damage = Some(StoreError::corrupt(
                            at,
                            format!("{c} stored in partition {p}"),
                        ));
                    }
                    let v = versions.entry(c.clone()).or_insert(0);
                    if e.version != *v + 1 {
                        damage = Some(StoreError::corrupt(
                            at,
                            format!("{c}: version {} follows {}", e.version, v),
                        ));
                    }
                    *v = e.version;
                    if !ids.insert(e.event.id) {
                        damage = Some(StoreError::corrupt(
                            at,
                            format!("event {} stored twice", e.event.id),
                        ));
                    }
                    report.events += 1;
                    report.decisions += u64::from(e.sequence != last_sequence);
                    last_sequence = e.sequence;
                },
                |_, _| noops += 1,
            )?;
            report.noops += noops;
            if let Some(d) = damage.take() {
                return Err(d.into());
            }
        }
        report.conversations = versions.len() as u64;
        Ok(report)
    }
}
