//! The receipt engine's event log on NATS JetStream, for services that outgrow one machine
//! (docs/scale-out.md).
//!
//! The log is split into a fixed number of partitions, each a JetStream stream; a conversation
//! lives in one partition (a frozen hash of its id) on a subject of its own, and every decision
//! is one message holding the project's checksummed record of its events. Appends carry the
//! version they were decided at (the server refuses a stale one) and their first event's id
//! (the server drops a retry); checkpoints live in a KV bucket.

#![warn(missing_docs)]

mod engine;
mod error;
mod identity;
mod log;
mod log_append;
mod log_read;
mod naming;
mod noop;
mod owned;
mod ownership;
mod replica;
mod salvage;
mod verify;

pub use engine::JetStreamEngine;
pub use error::JetStreamError;
pub use log::{JetStreamLog, JetStreamOptions};
pub use log_append::Appended;
pub use log_read::PartitionEvent;
pub use naming::partition_of;
pub use owned::{Ownership, Replayed};
pub use ownership::Lease;
pub use replica::REPLICA_MARKER_FILE;
pub use salvage::{DroppedRecord, JetStreamSalvageReport};
pub use verify::JetStreamVerifyReport;
