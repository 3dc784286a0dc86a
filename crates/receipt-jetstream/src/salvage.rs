//! Salvage of a JetStream log with bad records: every record a replay would believe is copied
//! into a new, empty log (another prefix), and every message left behind is listed by its
//! partition and stream sequence. The damaged log is only read.
//!
//! A conversation keeps its records up to its first bad one: a later record of it would
//! follow a record that is not there (its version chain is broken), so it is listed too. Other
//! conversations lose nothing.

use crate::error::JetStreamError;
use crate::log::JetStreamLog;
use crate::log_read::{Chains, Scanned};

/// Messages read per consumer in a salvage: the copying waits for each batch to be read, so a
/// batch is what the salvage holds in memory.
const BATCH_MESSAGES: u64 = 1024;

/// A message salvage did not copy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DroppedRecord {
    /// The partition.
    pub partition: u32,
    /// The message's sequence in the partition's stream.
    pub sequence: u64,
    /// Why it was not copied.
    pub reason: String,
}

/// What [`JetStreamLog::salvage_into`] copied and left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JetStreamSalvageReport {
    /// Decisions (messages) copied.
    pub decisions: u64,
    /// Events in them.
    pub events: u64,
    /// No-op records copied.
    pub noops: u64,
    /// Every message not copied, in partition and stream order.
    pub dropped: Vec<DroppedRecord>,
}

impl JetStreamLog {
    /// Copies every good record of this log into `target`, an empty log with as many
    /// partitions (made with another prefix), and lists every message it did not copy. This
    /// log is only read.
    pub fn salvage_into(
        &self,
        target: &JetStreamLog,
    ) -> Result<JetStreamSalvageReport, JetStreamError> {
        let refuse = |reason: String| Err(JetStreamError::SalvageTarget { reason });
        if target.location() == self.location() {
            return refuse("it is the damaged log itself".into());
        }
        if target.partitions() != self.partitions() {
            return refuse(format!(
                "it has {} partitions, the damaged log {}",
                target.partitions(),
                self.partitions()
            ));
        }
        for p in 0..target.partitions() {
            let head = target.partition_head(p)?;
            if head != 0 {
                return refuse(format!("its partition {p} holds {head} messages"));
            }
        }
        let mut report = JetStreamSalvageReport::default();
        for p in 0..self.partitions() {
            let head = self.partition_head(p)?;
            let mark = self.high_water_mark(p)?;
            let mut chains = Chains::from_start();
            // The target partition's last sequence: its no-op records are fenced at it.
            let mut last = 0;
            let mut from = 1;
            while from <= head {
                let to = head.min(from + BATCH_MESSAGES - 1);
                let mut batch = Vec::new();
                self.scan_partition(p, from, to, &mut chains, |s| {
                    batch.push(s);
                    Ok(())
                })?;
                for scanned in batch {
                    self.copy(target, p, scanned, &mut last, &mut report)?;
                }
                from = to + 1;
            }
            if head < mark {
                report.dropped.push(DroppedRecord {
                    partition: p,
                    sequence: head + 1,
                    reason: format!(
                        "sequences {} to {mark} were acknowledged and are missing from the stream",
                        head + 1
                    ),
                });
            }
        }
        Ok(report)
    }

    fn copy(
        &self,
        target: &JetStreamLog,
        p: u32,
        scanned: Scanned,
        last: &mut u64,
        report: &mut JetStreamSalvageReport,
    ) -> Result<(), JetStreamError> {
        let mut drop = |sequence, reason| {
            report.dropped.push(DroppedRecord {
                partition: p,
                sequence,
                reason,
            })
        };
        match scanned {
            Scanned::Bad { sequence, reason } => drop(sequence, reason),
            Scanned::Noop { command, .. } => {
                target.append_noop_fenced(p, command, last)?;
                report.noops += 1;
            }
            Scanned::Decision {
                sequence,
                conversation,
                position,
                events,
            } => match target.append(&conversation, position, &events) {
                Ok(appended) => {
                    *last = appended.sequence.max(*last);
                    report.decisions += 1;
                    report.events += events.len() as u64;
                }
                // A record the new log refuses (its first event's id taken by a record copied
                // before it): left behind, and said.
                Err(e @ JetStreamError::Conflict { .. }) => {
                    drop(sequence, format!("the new log refused it: {e}"))
                }
                Err(e) => return Err(e),
            },
        }
        Ok(())
    }
}
