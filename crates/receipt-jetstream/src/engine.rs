//! The Engine on JetStream: an engine process takes the leases of some partitions, replays
//! them into a log of its own (in memory, or on sled in a directory kept between openings:
//! src/replica.rs), and opens the Engine over that replica with the
//! JetStream log as its log of record: every decision is appended to JetStream first (fenced
//! by the lease), and folded only once the cluster acknowledged it.
//!
//! The domain, the Engine and every query run unchanged; what differs is where the truth is
//! (JetStream) and what a position is (a place in this process's replica: positions are not
//! comparable across processes, nor across reopenings when the process owns several
//! partitions, whose streams have no order between them).

use crate::error::JetStreamError;
use crate::log::JetStreamLog;
use crate::log_read::Chains;
use crate::owned::{Owned, Ownership, Replayed};
use crate::ownership::Lease;
use crate::replica::{self, Held};
use receipt_engine::store::{
    AppendRequest, Backend, EventLog, MemoryBackend, MemoryLog, SledBackend, SledLog, StoreError,
};
use receipt_engine::{CommandId, ConversationId, Durability, Engine, EngineOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// An [`Engine`] whose log of record is a JetStream log, owning some of its partitions; its
/// replica in memory ([`JetStreamEngine::open`]) or on sled ([`JetStreamEngine::open_in`]).
/// Dereferences to the Engine: commands and queries are the Engine's. Dropping it gives the
/// partitions up (their leases end at once), after marking what an on-disk replica holds.
pub struct JetStreamEngine<B: Backend = MemoryBackend> {
    engine: Engine<B>,
    owned: Arc<Owned>,
    renewer: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
    replayed: Replayed,
    /// The on-disk replica's directory and what it is a replica of.
    kept: Option<(PathBuf, Held)>,
}

impl<B: Backend> std::fmt::Debug for JetStreamEngine<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamEngine")
            .field("log", &self.owned.log.location())
            .field("partitions", &self.partitions())
            .field("engine", &self.engine)
            .finish()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Takes partition `p`, waiting until `deadline` for a lease another process holds.
fn acquire_waiting(
    log: &JetStreamLog,
    p: u32,
    ownership: &Ownership,
    deadline: Instant,
) -> Result<Lease, JetStreamError> {
    let ttl = Duration::from_millis(ownership.lease_ttl_ms);
    loop {
        match log.acquire(p, &ownership.owner, ttl) {
            Err(JetStreamError::LeaseHeld { expires_at_ms, .. }) if Instant::now() < deadline => {
                // Sleep until the lease ends (a little after, for clock steps), at most until
                // the deadline, and look again: its owner may have renewed it.
                let until_expiry = Duration::from_millis(expires_at_ms.saturating_sub(now_ms()));
                let left = deadline.saturating_duration_since(Instant::now());
                std::thread::sleep((until_expiry + Duration::from_millis(20)).min(left));
            }
            // The entry changed between reading and writing it (the previous owner's last
            // renewal landing late, say): look again, it says who holds the lease now.
            Err(JetStreamError::LeaseLost { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            answer => return answer,
        }
    }
}

/// One JetStream message's events, for the replica.
struct Decision {
    sequence: u64,
    request: AppendRequest,
}

impl JetStreamEngine<MemoryBackend> {
    /// Takes the leases of `ownership`'s partitions, replays them into a replica in memory and
    /// opens the Engine over it with `options` (and the JetStream log as its log of record).
    pub fn open(
        log: Arc<JetStreamLog>,
        ownership: &Ownership,
        options: EngineOptions,
    ) -> Result<Self, JetStreamError> {
        Self::open_with(log, ownership, options, |_, _| {
            Ok((MemoryLog::in_memory(), BTreeMap::new(), None))
        })
    }
}

/// A quarter of the memory budget goes to sled's page cache, as `Engine::open` gives it; sled
/// needs at least 1 MiB to work well.
const SLED_SHARE_OF_BUDGET: usize = 4;
const MIN_SLED_CACHE_BYTES: usize = 1 << 20;

impl JetStreamEngine<SledBackend> {
    /// [`JetStreamEngine::open`] with the replica on sled in `dir`, kept between openings: its
    /// memory follows the Engine's budget (not the partitions' history), and after a clean
    /// close the next opening reads only what the partitions gained since (by this process or
    /// another that owned them meanwhile). After a crash it reads them from their start,
    /// skipping what the replica holds. The replica is a cache: JetStream stays the truth, and
    /// the replica's own durability is sled's background flush (no `fdatasync` per command).
    /// `dir` must hold a replica of the same log and partitions, or nothing
    /// ([`JetStreamError::ReplicaMismatch`]).
    pub fn open_in(
        log: Arc<JetStreamLog>,
        ownership: &Ownership,
        options: EngineOptions,
        dir: impl AsRef<Path>,
    ) -> Result<Self, JetStreamError> {
        let dir = dir.as_ref().to_path_buf();
        let mut options = options;
        let cache_bytes =
            (options.memory_budget_bytes / SLED_SHARE_OF_BUDGET).max(MIN_SLED_CACHE_BYTES);
        options.memory_budget_bytes -= options.memory_budget_bytes / SLED_SHARE_OF_BUDGET;
        Self::open_with(log, ownership, options, |log, owned| {
            std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(dir.display(), e))?;
            let found = replica::read(&dir);
            let replica =
                SledLog::open_dir_with_cache(&dir, Durability::Buffered, cache_bytes as u64)?;
            let held = Held {
                prefix: log.prefix().to_string(),
                partitions: log.partitions(),
                owned: owned.to_vec(),
                sequences: BTreeMap::new(),
            };
            let from = match found {
                Some(f)
                    if f.prefix == held.prefix
                        && f.partitions == held.partitions
                        && f.owned == held.owned =>
                {
                    f.sequences
                }
                None if replica.head() == 0 => BTreeMap::new(),
                _ => {
                    return Err(JetStreamError::ReplicaMismatch {
                        dir: dir.display().to_string(),
                    })
                }
            };
            // What the replica holds is unknown from here until the clean close says.
            replica::write(&dir, &held).map_err(|e| StoreError::io(dir.display(), e))?;
            Ok((replica, from, Some((dir.clone(), held))))
        })
    }
}

/// A replica, where each partition's replay starts (after this sequence), and where it is kept.
type Replica<B> = (EventLog<B>, BTreeMap<u32, u64>, Option<(PathBuf, Held)>);

impl<B: Backend> JetStreamEngine<B> {
    /// Takes the leases, makes the replica (`make`: given the log and the owned partitions),
    /// replays each partition after where the replica ends, and opens the Engine.
    fn open_with(
        log: Arc<JetStreamLog>,
        ownership: &Ownership,
        options: EngineOptions,
        make: impl FnOnce(&JetStreamLog, &[u32]) -> Result<Replica<B>, JetStreamError>,
    ) -> Result<Self, JetStreamError> {
        let partitions = ownership
            .partitions
            .clone()
            .unwrap_or_else(|| (0..log.partitions()).collect());
        if let Some(&p) = partitions.iter().find(|&&p| p >= log.partitions()) {
            return Err(JetStreamError::NoPartition {
                partition: p,
                partitions: log.partitions(),
            });
        }
        let deadline = Instant::now() + Duration::from_millis(ownership.wait_for_lease_ms);
        let mut leases = BTreeMap::new();
        for p in partitions {
            match acquire_waiting(&log, p, ownership, deadline) {
                Ok(lease) => {
                    leases.insert(p, lease);
                }
                Err(e) => {
                    release_all(&log, leases.values());
                    return Err(e);
                }
            }
        }
        let owned = Arc::new(Owned {
            log,
            leases,
            retry_lost_answers: Duration::from_millis(ownership.retry_lost_answers_ms),
        });
        let owned_partitions: Vec<u32> = owned.leases.keys().copied().collect();
        let opened = make(&owned.log, &owned_partitions).and_then(|(replica, from, kept)| {
            Self::replay_and_open(owned.clone(), replica, &from, options).map(|o| (o, kept))
        });
        match opened {
            Ok(((engine, replayed), kept)) => Ok(Self {
                engine,
                renewer: Some(start_renewer(owned.clone(), ownership.lease_ttl_ms)),
                owned,
                replayed,
                kept,
            }),
            Err(e) => {
                release_all(&owned.log, owned.leases.values());
                Err(e)
            }
        }
    }

    fn replay_and_open(
        owned: Arc<Owned>,
        replica: EventLog<B>,
        from: &BTreeMap<u32, u64>,
        options: EngineOptions,
    ) -> Result<(Engine<B>, Replayed), JetStreamError> {
        let started = Instant::now();
        let (mut decisions, mut events) = (0u64, 0u64);
        for &p in owned.leases.keys() {
            let mut pending: Option<Decision> = None;
            let mut failed: Option<StoreError> = None;
            let mut keep = |d: Decision| -> Result<(), StoreError> {
                let first = d.request.events[0].id;
                let version = d.request.expected_version + d.request.events.len() as u64;
                owned
                    .log
                    .note_tip(&d.request.conversation, version, d.sequence, first);
                decisions += 1;
                events += d.request.events.len() as u64;
                replica.append(d.request).map(|_| ())
            };
            // No-op records are only looked up by command id: kept once the events are.
            let mut noops: Vec<CommandId> = Vec::new();
            // Appends the replica holds already (after a crash) are recognised by their event
            // ids and skipped.
            // A replay from the start checks each conversation's versions from 0; one after
            // what the replica holds, from the replica's version.
            let after = from.get(&p).copied().unwrap_or(0);
            let chains = if after == 0 {
                Chains::from_start()
            } else {
                Chains::starting(|c| replica.version(c))
            };
            owned.log.replay_partition_with(
                p,
                after + 1,
                chains,
                |conversation, e| {
                    if failed.is_some() {
                        return;
                    }
                    if let Some(d) = pending.as_mut().filter(|d| d.sequence == e.sequence) {
                        d.request.events.push(e.event);
                        return;
                    }
                    let next = Decision {
                        sequence: e.sequence,
                        request: AppendRequest {
                            conversation: conversation.clone(),
                            expected_version: e.version - 1,
                            events: vec![e.event],
                        },
                    };
                    if let Some(done) = pending.replace(next) {
                        failed = keep(done).err();
                    }
                },
                |_, command| noops.push(command),
            )?;
            if let Some(e) = failed {
                return Err(e.into());
            }
            if let Some(done) = pending {
                keep(done)?;
            }
            for command in noops {
                replica.record_noop(command)?;
            }
        }
        let replay = started.elapsed();
        let folding = Instant::now();
        let engine = Engine::over(replica, options.with_log_of_record(owned.clone()))?;
        Ok((
            engine,
            Replayed {
                partitions: owned.leases.len(),
                decisions,
                events,
                replay,
                fold: folding.elapsed(),
            },
        ))
    }

    /// The Engine.
    pub fn engine(&self) -> &Engine<B> {
        &self.engine
    }

    /// The partitions this process owns.
    pub fn partitions(&self) -> Vec<u32> {
        self.owned.leases.keys().copied().collect()
    }

    /// Whether this process owns `conversation`'s partition (else its commands are refused
    /// with the kind `"NotOwned"`: route them to the owner).
    pub fn owns(&self, conversation: &ConversationId) -> bool {
        self.owned.lease_for(conversation).is_ok()
    }

    /// What opening read and folded.
    pub fn replayed(&self) -> Replayed {
        self.replayed
    }

    /// The JetStream log.
    pub fn jetstream(&self) -> &Arc<JetStreamLog> {
        &self.owned.log
    }
}

impl<B: Backend> std::ops::Deref for JetStreamEngine<B> {
    type Target = Engine<B>;

    fn deref(&self) -> &Self::Target {
        &self.engine
    }
}

impl<B: Backend> Drop for JetStreamEngine<B> {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.renewer.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
        // An on-disk replica that followed every append it acknowledged (the engine never
        // stopped) holds each partition up to the owner's last known sequence: say so, once
        // it is flushed. Otherwise the marker keeps no sequence and the next opening reads
        // the partitions from their start.
        if let Some((dir, held)) = self.kept.take() {
            if self.engine.stopped().is_none() && self.engine.flush().is_ok() {
                let sequences = self
                    .owned
                    .leases
                    .iter()
                    .map(|(&p, lease)| (p, lease.last_sequence()))
                    .collect();
                let _ = replica::write(&dir, &Held { sequences, ..held });
            }
        }
        release_all(&self.owned.log, self.owned.leases.values());
    }
}

/// Renews every lease each third of its time to live until told to stop. A failed renewal is
/// left alone: if another process took the partition, the fence refuses this one's appends.
fn start_renewer(owned: Arc<Owned>, ttl_ms: u64) -> (mpsc::Sender<()>, JoinHandle<()>) {
    let (stop, stopped) = mpsc::channel::<()>();
    let every = Duration::from_millis((ttl_ms / 3).max(1));
    let thread = std::thread::spawn(move || {
        while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
            for lease in owned.leases.values() {
                let _ = owned.log.renew(lease);
            }
        }
    });
    (stop, thread)
}

/// Gives the leases up, best effort (a lease not released runs out by itself).
fn release_all<'a>(log: &JetStreamLog, leases: impl Iterator<Item = &'a Lease>) {
    for lease in leases {
        let _ = log.release(lease);
    }
}
