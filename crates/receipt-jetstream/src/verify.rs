//! `verify` of a JetStream log: every record read back and checked, each conversation's
//! versions consecutive, every event id once. Reads only.

use crate::error::JetStreamError;
use crate::log::JetStreamLog;
use crate::log_read::Chains;
use receipt_domain::{CommandId, ConversationId, EventId};
use std::collections::HashSet;

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
    /// Reads every partition from its start and checks each message as a replay does (its
    /// sequence, subject, partition, checksum and place in its conversation's versions: see
    /// src/log_read.rs), each stream against its high-water mark, and that no event id is
    /// stored twice, nor any no-op record. `Err` names the first damage by partition and stream
    /// sequence.
    pub fn verify(&self) -> Result<JetStreamVerifyReport, JetStreamError> {
        let mut report = JetStreamVerifyReport {
            partitions: self.partitions(),
            ..JetStreamVerifyReport::default()
        };
        let mut ids: HashSet<EventId> = HashSet::new();
        let mut conversations: HashSet<ConversationId> = HashSet::new();
        let mut commands: HashSet<CommandId> = HashSet::new();
        for p in 0..self.partitions() {
            let mut last_sequence = 0;
            let mut noops = 0u64;
            let mut twice: Option<(u64, String)> = None;
            let mut noop_twice: Option<(u64, String)> = None;
            self.replay_partition_with(
                p,
                1,
                Chains::from_start(),
                |c, e| {
                    if e.version == 1 {
                        conversations.insert(c.clone());
                    }
                    if !ids.insert(e.event.id) && twice.is_none() {
                        twice = Some((e.sequence, format!("event {}", e.event.id)));
                    }
                    report.events += 1;
                    report.decisions += u64::from(e.sequence != last_sequence);
                    last_sequence = e.sequence;
                },
                |sequence, command| {
                    noops += 1;
                    // A repeated no-op record changes no answer (a replay records the command
                    // once), but the log never writes one twice: it is not the log's.
                    if !commands.insert(command) && noop_twice.is_none() {
                        noop_twice = Some((
                            sequence,
                            format!("the no-op record of command {}", command.0),
                        ));
                    }
                },
            )?;
            report.noops += noops;
            let first = match (twice, noop_twice) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if let Some((sequence, id)) = first {
                return Err(JetStreamError::bad_record(
                    p,
                    sequence,
                    format!("{id} is stored twice"),
                ));
            }
        }
        report.conversations = conversations.len() as u64;
        Ok(report)
    }
}
