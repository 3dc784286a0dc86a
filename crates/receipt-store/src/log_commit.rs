//! Commits: when an append's events are durable. A commit makes everything written so far
//! durable (the backend's flush: sled's flush plus `fdatasync`s), then records the covered head
//! in the acknowledgement ledger, never before.

use crate::backend::Backend;
use crate::error::StoreError;
use crate::keys;
use crate::ledger::{self, Mark};
use crate::log::{lock, Durability, EventLog, Written};
use std::sync::atomic::Ordering;

impl<B: Backend> EventLog<B> {
    /// The second half of an append: returns once the write is as durable as promised.
    pub fn wait_durable(&self, written: &Written) -> Result<(), StoreError> {
        match self.durability {
            Durability::EveryAppend => self.commit().map(|_| ()),
            Durability::GroupCommit => self.group.wait_durable(
                written.seq,
                || self.in_flight.load(Ordering::SeqCst),
                || self.commit(),
            ),
            Durability::Buffered => Ok(()),
        }
    }

    /// Waits until everything written so far is as durable as promised (used when a retry
    /// finds its original write, which may still be on its way to the disk).
    pub fn wait_durable_now(&self) -> Result<(), StoreError> {
        let seq = self.written_seq.load(Ordering::SeqCst);
        self.wait_durable(&Written {
            outcomes: Vec::new(),
            seq,
            flushes_begun: 0,
        })
    }

    /// One commit: makes everything written so far durable, then records it in the ledger.
    /// Returns the write sequence number it covers.
    fn commit(&self) -> Result<u64, StoreError> {
        let (seq, mark) = {
            let w = self.writer();
            (
                self.written_seq.load(Ordering::SeqCst),
                Mark {
                    seq: 0,
                    head: w.head,
                    chain: w.chain,
                    last_chunk_position: w.last_chunk.0,
                    last_chunk_crc: w.last_chunk.1,
                    store_tag: 0, // the ledger's, below
                },
            )
        };
        // Data first: the ledger may only ever claim what is already on stable storage.
        self.backend.flush()?;
        let mut ledger = lock(&self.ledger);
        if mark.head > ledger.written.head {
            let next = Mark {
                seq: ledger.written.seq + 1,
                store_tag: ledger.written.store_tag,
                ..mark
            };
            self.backend
                .write_ledger(next.slot() * ledger::SLOT_BYTES, &next.encode())?;
            ledger.written = next;
        }
        drop(ledger);
        self.durable_head.fetch_max(mark.head, Ordering::SeqCst);
        Ok(seq)
    }

    /// Makes everything appended so far durable, whatever the durability option, with the
    /// index watermark up to date and the ledger covering it.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.write_watermark()?;
        self.commit().map(|_| ())
    }

    fn write_watermark(&self) -> Result<(), StoreError> {
        let mut w = self.writer();
        if w.chunks_since_watermark > 0 {
            self.backend
                .write_each(vec![(keys::HEAD.to_vec(), keys::u64_value(w.head))])?;
            w.chunks_since_watermark = 0;
        }
        Ok(())
    }
}
