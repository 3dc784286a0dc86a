//! The comparison behind `docs/benchmarks.md` (`cargo bench --bench compare`): one seeded
//! workload, decided once by the domain ([`plan`]), fed as the same commands to each store
//! ([`stores::Kind`]) through the API its user would call, at the same durability (an
//! `fdatasync` per commit on every side), each store checked against the reference
//! ([`check`]) before any of its figures is printed. [`run`] is the benchmark program.

#![warn(missing_docs)]

pub mod check;
mod engine_store;
pub mod partitions;
pub mod plan;
mod raw_sled;
pub mod run;
pub mod sqlite_schema;
mod sqlite_store;
pub mod stores;

pub use engine_store::options as engine_options;

/// Errors of a benchmark run: any failure ends it with a message.
pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
