//! Keeping the cache within its budget (eviction) and handing what changed to a checkpoint.

use super::{Projections, ENTRY_BYTES_ESTIMATE};
use receipt_domain::ConversationId;
use receipt_store::{Backend, CheckpointWrite, EventLog, StoreError};
use std::sync::Arc;

impl Projections {
    /// Evicts least-recently-used partitions (writing the checkpoint of a dirty one first) and
    /// clean user summaries until the estimate is within the budget; keeps `keep` resident.
    pub(crate) fn evict_over_budget<B: Backend>(
        &mut self,
        log: &EventLog<B>,
        keep: Option<&ConversationId>,
    ) -> Result<(), StoreError> {
        while self.part_bytes + self.entry_bytes > self.budget_bytes {
            let Some((c, part)) = self.parts.pop_front() else {
                break;
            };
            if keep == Some(&c) {
                // The only candidate left is the one in use.
                self.parts.insert(c, part);
                if self.parts.len() == 1 {
                    break;
                }
                continue;
            }
            self.part_bytes = self.part_bytes.saturating_sub(part.bytes);
            self.stats.evictions += 1;
            // A read-only engine drops it: loading it again folds its stream's tail again.
            if part.dirty && !log.is_read_only() {
                self.stats.eviction_writes += 1;
                // A partition entry is a prefix of its stream whenever it is written: no marker.
                log.write_checkpoint(&CheckpointWrite {
                    partitions: vec![(c, part.state)],
                    ..CheckpointWrite::default()
                })?;
            }
        }
        if self.checkpoint_in_flight {
            return Ok(());
        }
        let mut scanned = 0;
        let users = self.users.len();
        while self.part_bytes + self.entry_bytes > self.budget_bytes && scanned < users {
            scanned += 1;
            let Some((u, entry)) = self.users.pop_front() else {
                break;
            };
            if entry.dirty() {
                // Written by the next checkpoint; until then it stays.
                self.users.insert(u, entry);
                continue;
            }
            self.entry_bytes = self
                .entry_bytes
                .saturating_sub(ENTRY_BYTES_ESTIMATE * (1 + entry.convs.len()));
        }
        // Clean headers of evicted partitions: any can be read again from its checkpoint.
        if self.part_bytes + self.entry_bytes > self.budget_bytes {
            let before = self.headers.len();
            self.headers.retain(|_, slot| slot.dirty);
            let dropped = before - self.headers.len();
            self.entry_bytes = self
                .entry_bytes
                .saturating_sub(ENTRY_BYTES_ESTIMATE * dropped);
        }
        Ok(())
    }

    /// Takes everything dirty for a checkpoint at `marker` (a copy of each dirty resident
    /// partition, every dirty header and summary) and marks it clean. If the write then fails,
    /// [`Projections::restore_dirty`] puts the marks back.
    pub(crate) fn take_checkpoint(&mut self, marker: u64) -> CheckpointWrite {
        let mut w = CheckpointWrite {
            marker: Some(marker),
            // At most `Policy::max_early_acks_total` entries.
            held_early_acks: self.held.clone(),
            ..CheckpointWrite::default()
        };
        for (c, p) in self.parts.iter_mut() {
            if p.dirty {
                // A pointer copy: the pause must not grow with the partitions' sizes.
                p.dirty = false;
                w.partitions.push((c.clone(), Arc::clone(&p.state)));
            }
        }
        for (c, slot) in self.headers.iter_mut() {
            if slot.dirty {
                slot.dirty = false;
                w.headers.push((c.clone(), slot.value.0, slot.value.1));
            }
        }
        for (u, entry) in self.users.iter_mut() {
            for (c, slot) in entry.convs.iter_mut() {
                if slot.dirty {
                    slot.dirty = false;
                    w.summaries.push((u.clone(), c.clone(), slot.value));
                }
            }
        }
        self.dirty_entries = 0;
        self.checkpoint_in_flight = true;
        w
    }

    /// The checkpoint taken last is written (or failed and was marked dirty again).
    pub(crate) fn checkpoint_finished(&mut self) {
        self.checkpoint_in_flight = false;
    }

    /// Marks dirty again what a failed checkpoint write held (values set since stay: they are
    /// newer).
    pub(crate) fn restore_dirty(&mut self, w: &CheckpointWrite) {
        for (c, _) in &w.partitions {
            if let Some(p) = self.parts.get_mut(c) {
                p.dirty = true;
            }
        }
        for (c, h, version) in &w.headers {
            match self.headers.get(c) {
                Some(slot) => {
                    let (value, at) = slot.value;
                    self.set_header(c, value, at, true);
                }
                None => self.set_header(c, *h, *version, true),
            }
        }
        for (u, c, s) in &w.summaries {
            let current = self
                .users
                .get(u)
                .and_then(|e| e.convs.get(c))
                .map(|slot| slot.value);
            self.set_summary(u, c, current.unwrap_or(*s), true);
        }
    }
}
