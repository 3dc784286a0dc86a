//! The stores under test, behind one interface: each takes the planned commands as its user
//! would hand them over (one at a time from many clients, or a batch), durably, and answers the
//! same queries.

use crate::plan::Planned;
use crate::Result;
use receipt_domain::{ConversationId, MessageId, UserId};
use std::path::Path;

/// Which store.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum Kind {
    /// This engine: `Engine::execute_command` / `execute_batch`, group commit (`fdatasync`).
    Engine,
    /// SQLite with counter tables, one writer thread batching the queued commands per
    /// transaction (WAL, `synchronous=FULL`).
    SqliteWriter,
    /// The same SQLite schema, one connection per client thread, each command its own
    /// transaction, waiting on the busy handler.
    SqliteConnections,
    /// SQLite without counters (unread by `COUNT(*)` at read time), one batching writer.
    SqliteCount,
    /// Raw sled, one key per event, `flush` plus `fdatasync` of its file per commit: the floor.
    RawSled,
}

impl Kind {
    /// Every store, in table order.
    pub const ALL: [Kind; 5] = [
        Kind::Engine,
        Kind::SqliteWriter,
        Kind::SqliteConnections,
        Kind::SqliteCount,
        Kind::RawSled,
    ];

    /// The column title.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Engine => "engine",
            Kind::SqliteWriter => "SQLite + counters, batching writer",
            Kind::SqliteConnections => "SQLite + counters, 16 connections",
            Kind::SqliteCount => "SQLite COUNT(*), batching writer",
            Kind::RawSled => "raw sled (floor)",
        }
    }

    /// The command-line name (`--only`).
    pub fn cli_name(self) -> &'static str {
        match self {
            Kind::Engine => "engine",
            Kind::SqliteWriter => "sqlite-writer",
            Kind::SqliteConnections => "sqlite-connections",
            Kind::SqliteCount => "sqlite-count",
            Kind::RawSled => "raw-sled",
        }
    }
}

/// One client of a store (a request handler thread of the service).
pub trait Client {
    /// Executes one command; returns once it is durable.
    fn command(&mut self, p: &Planned) -> Result;
}

/// A store, shared by its clients.
pub trait Store: Sync {
    /// A new client, for one thread.
    fn client(&self) -> Result<Box<dyn Client + '_>>;
    /// Executes `commands` as one durable transaction.
    fn batch(&self, commands: &[Planned]) -> Result;
    /// Unread count, or `None` for a store that keeps no projections (raw sled).
    fn unread(&self, user: &UserId, conversation: &ConversationId) -> Result<Option<u32>>;
    /// Group read-ack count of a message, or `None` (raw sled).
    fn group_ack_count(&self, message: &MessageId) -> Result<Option<u32>>;
    /// Checks the store against the plan: its projections, or (raw sled) its records.
    fn verify(&self, plan: &crate::plan::Plan) -> Result;
    /// Closes cleanly (everything durable, files released).
    fn close(self: Box<Self>) -> Result;
}

/// Opens (creating) a store of `kind` in `dir`.
pub fn open(kind: Kind, dir: &Path, policy: receipt_domain::Policy) -> Result<Box<dyn Store>> {
    std::fs::create_dir_all(dir)?;
    Ok(match kind {
        Kind::Engine => Box::new(crate::engine_store::EngineStore::open(dir, policy)?),
        Kind::SqliteWriter => Box::new(crate::sqlite_store::SqliteStore::open(dir, true, false)?),
        Kind::SqliteConnections => {
            Box::new(crate::sqlite_store::SqliteStore::open(dir, true, true)?)
        }
        Kind::SqliteCount => Box::new(crate::sqlite_store::SqliteStore::open(dir, false, false)?),
        Kind::RawSled => Box::new(crate::raw_sled::RawSled::open(dir)?),
    })
}

/// Bytes under `path` (a file, or a directory walked recursively).
pub fn size_on_disk(path: &Path) -> u64 {
    let Ok(meta) = std::fs::metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| size_on_disk(&e.path())).sum())
        .unwrap_or(0)
}
