//! Opening the log: the head from the last chunk, the store checked against its
//! acknowledgement ledger (or a ledger created for a store that has none), the layout upgraded,
//! and index entries a crash left missing rewritten.

use crate::backend::Backend;
use crate::error::StoreError;
use crate::group_commit::GroupCommit;
use crate::keys;
use crate::ledger::{self, Mark};
use crate::log::{lock, Durability, EventLog, LedgerState, Writer};
use crate::record;
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

impl<B: Backend> EventLog<B> {
    /// Opens the log over a backend. Checks the store against its acknowledgement ledger
    /// (fewer or different events than acknowledged is [`StoreError::Lost`] or
    /// [`StoreError::Damaged`]), then rewrites index entries a crash left missing.
    pub fn open(backend: B, durability: Durability) -> Result<Self, StoreError> {
        let kept = backend.pre_open_copy();
        match Self::open_checked(backend, durability) {
            Ok(log) => {
                log.backend.discard_pre_open_copy();
                Ok(log)
            }
            Err(e) => Err(e.with_kept_copy(kept)),
        }
    }

    fn open_checked(backend: B, durability: Durability) -> Result<Self, StoreError> {
        let indexed = match backend.get(keys::HEAD)? {
            None => 0,
            Some(v) => keys::parse_u64(&v)
                .ok_or_else(|| StoreError::corrupt(0, "unreadable index watermark"))?,
        };
        let last = backend.last_between(&keys::chunk(0), &keys::chunk(u64::MAX))?;
        let (head, last_chunk) = match &last {
            None => (0, (0, 0)),
            Some((k, v)) => {
                let position = keys::chunk_position(k)
                    .ok_or_else(|| StoreError::corrupt(0, "bad chunk key"))?;
                let count = record::decode_chunk(v, position)?.len() as u64;
                (position + count, (position, crc32fast::hash(v)))
            }
        };
        let mut log = Self {
            backend,
            durability,
            writer: Mutex::new(Writer {
                head,
                chunks_since_watermark: 0,
                versions: FxHashMap::default(),
                chain: 0,
                last_chunk,
            }),
            written_seq: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            group: GroupCommit::default(),
            ledger: Mutex::new(LedgerState::default()),
            durable_head: AtomicU64::new(0),
            opened: false,
            checkpoints: Default::default(),
        };
        let mark = log.check_ledger(head)?;
        if indexed > head {
            return Err(StoreError::corrupt(
                head,
                format!("index covers {indexed} events, chunks end at {head}"),
            ));
        }
        lock(&log.writer).chain = mark.chain_at_head;
        *lock(&log.ledger) = LedgerState {
            written: mark.ledger,
        };
        log.durable_head.store(mark.ledger.head, Ordering::SeqCst);
        // A store of an older layout gets its index built once, from its first chunk; the
        // stream runs are rewritten byte for byte on the way.
        let layout = match log.backend.get(keys::LAYOUT)? {
            None => 1,
            Some(v) => keys::parse_u64(&v)
                .ok_or_else(|| StoreError::corrupt(0, "unreadable layout version"))?,
        };
        if layout > keys::LAYOUT_VERSION {
            return Err(StoreError::UnsupportedLayout(layout));
        }
        // Layouts 1 and 2 lack index entries (event ids; message ids) for every chunk.
        let reindex_from = if layout < keys::LAYOUT_VERSION {
            0
        } else {
            indexed
        };
        if reindex_from < head {
            log.refuse_read_only(&format!(
                "the index entries of the events from position {reindex_from} are missing (written at the first writing open)"
            ))?;
            log.reindex_from(reindex_from)?;
        }
        if layout < keys::LAYOUT_VERSION {
            log.refuse_read_only(&format!(
                "its keyspace is of layout {layout}, upgraded to {} at the first writing open",
                keys::LAYOUT_VERSION
            ))?;
            log.backend.write_each(vec![(
                keys::LAYOUT.to_vec(),
                keys::u64_value(keys::LAYOUT_VERSION),
            )])?;
            log.backend.flush()?;
        }
        log.opened = true;
        Ok(log)
    }

    /// Compares the keyspace (chunks end at `head`) with the ledger, creating the ledger for a
    /// store that has none (new, or written before the ledger existed), and binds the two by
    /// their store tag. Returns the ledger's mark (with the tag later writes carry) and the
    /// chain over every chunk before `head`.
    fn check_ledger(&self, head: u64) -> Result<OpenedLedger, StoreError> {
        let location = || self.backend.location();
        let keyspace_tag = match self.backend.get(keys::LEDGER_TAG)? {
            None => None,
            Some(v) => Some(
                keys::parse_u32(&v)
                    .filter(|t| *t != 0)
                    .ok_or_else(|| StoreError::corrupt(0, "unreadable store tag"))?,
            ),
        };
        let Some(bytes) = self.backend.read_ledger()? else {
            // A keyspace bound to a ledger never opens without it: recreating the ledger from
            // the keyspace would make a loss of acknowledged events look like a healthy log.
            if keyspace_tag.is_some() {
                return Err(StoreError::LedgerMissing {
                    location: location(),
                });
            }
            self.refuse_read_only(
                "it has no acknowledgement ledger yet (the first writing open creates it)",
            )?;
            let (chain, _) = self.chain_between(0, head, 0)?;
            let last_chunk = lock(&self.writer).last_chunk;
            let mark = Mark {
                seq: 0,
                head,
                chain,
                last_chunk_position: last_chunk.0,
                last_chunk_crc: last_chunk.1,
                store_tag: new_store_tag(),
            };
            // The ledger may only claim what is durable. The ledger first, then the keyspace's
            // tag: a crash between the two leaves a tagged ledger and an untagged keyspace,
            // which the next open binds (below), never a tag without its ledger.
            self.backend.flush()?;
            self.backend.create_ledger(&mark.initial_file())?;
            self.write_store_tag(mark.store_tag)?;
            return Ok(OpenedLedger {
                ledger: mark,
                chain_at_head: chain,
            });
        };
        let mut mark = Mark::newest(&bytes).map_err(|reason| StoreError::Damaged {
            location: location(),
            reason: format!("its acknowledgement ledger is unreadable ({reason})"),
            kept: None,
        })?;
        match (mark.store_tag, keyspace_tag) {
            (0, Some(tag)) => mark.store_tag = tag, // a version-1 ledger: bound at its next write
            (0, None) => {
                // A store written before ledgers were bound: bound now, once.
                self.refuse_read_only(UNBOUND)?;
                mark.store_tag = new_store_tag();
                self.write_store_tag(mark.store_tag)?;
            }
            (ledger_tag, None) => {
                self.refuse_read_only(UNBOUND)?;
                self.write_store_tag(ledger_tag)?
            }
            (ledger_tag, Some(store_tag)) if ledger_tag != store_tag => {
                return Err(StoreError::ForeignLedger {
                    location: location(),
                    ledger_tag,
                    store_tag,
                    kept: None,
                })
            }
            (_, Some(_)) => {}
        }
        if head < mark.head {
            return Err(StoreError::Lost {
                location: location(),
                acknowledged: mark.head,
                found: head,
                kept: None,
            });
        }
        if mark.head > 0 {
            // The chunk that ends the acknowledged history must be the one acknowledged.
            let at = mark.last_chunk_position;
            let found = self.backend.get(&keys::chunk(at))?;
            let same = found
                .as_ref()
                .is_some_and(|v| crc32fast::hash(v) == mark.last_chunk_crc);
            if !same {
                return Err(StoreError::Damaged {
                    location: location(),
                    reason: format!(
                        "the last acknowledged chunk (position {at}) is {}",
                        if found.is_some() {
                            "not the one acknowledged"
                        } else {
                            "missing"
                        }
                    ),
                    kept: None,
                });
            }
        }
        let (chain_at_head, _) = self.chain_between(mark.head, head, mark.chain)?;
        Ok(OpenedLedger {
            ledger: mark,
            chain_at_head,
        })
    }

    /// Extends `chain` over the chunk records in `[from, to)`, checking that each decodes and
    /// that they are gapless. Returns the chain and the number of chunks read.
    pub(crate) fn chain_between(
        &self,
        from: u64,
        to: u64,
        chain: u32,
    ) -> Result<(u32, u64), StoreError> {
        let mut chain = chain;
        let mut chunks = 0;
        let mut next = from;
        for item in self.backend.range(&keys::chunk(from), &keys::chunk(to)) {
            let (k, v) = item?;
            let position = keys::chunk_position(&k)
                .ok_or_else(|| StoreError::corrupt(next, "bad chunk key"))?;
            if position != next {
                return Err(StoreError::corrupt(
                    next,
                    format!("gap: next chunk starts at {position}"),
                ));
            }
            next = position + record::decode_chunk(&v, position)?.len() as u64;
            chain = ledger::chain(chain, &v);
            chunks += 1;
        }
        if next != to {
            return Err(StoreError::corrupt(
                next,
                format!("chunks end at {next}, expected {to}"),
            ));
        }
        Ok((chain, chunks))
    }
}

/// Why a read-only open cannot bind a ledger to its keyspace.
const UNBOUND: &str =
    "its ledger is not bound to its keyspace yet (the first writing open binds them)";

/// A fresh store tag: random (the random bits of a v7 UUID), never 0, which means "none".
fn new_store_tag() -> u32 {
    let bytes = uuid::Uuid::now_v7().into_bytes();
    u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]).max(1)
}

impl<B: Backend> EventLog<B> {
    /// Opened over a read-only backend: it takes no writes.
    pub fn is_read_only(&self) -> bool {
        self.backend.read_only()
    }

    /// `Err(StoreError::ReadOnly)` for a read-only log: how every write refuses before
    /// anything is touched.
    pub fn refuse_writes(&self) -> Result<(), StoreError> {
        if self.backend.read_only() {
            return Err(StoreError::ReadOnly {
                location: self.backend.location(),
            });
        }
        Ok(())
    }

    /// A read-only open stops where opening would have to write.
    fn refuse_read_only(&self, reason: &str) -> Result<(), StoreError> {
        if self.backend.read_only() {
            return Err(StoreError::NeedsRecovery {
                location: self.backend.location(),
                reason: reason.to_string(),
            });
        }
        Ok(())
    }

    fn write_store_tag(&self, tag: u32) -> Result<(), StoreError> {
        self.backend.write_each(vec![(
            keys::LEDGER_TAG.to_vec(),
            tag.to_be_bytes().to_vec(),
        )])?;
        self.backend.flush()
    }
}

/// What `check_ledger` found.
struct OpenedLedger {
    ledger: Mark,
    chain_at_head: u32,
}
