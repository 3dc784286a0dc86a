//! The command line of `cargo bench --bench compare -- [OPTIONS]`.

use crate::stores::Kind;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Compares the receipt engine with SQLite and raw sled on one seeded workload.
#[derive(Debug, Parser)]
#[command(name = "compare")]
pub struct Args {
    /// Seconds-long run: 50,000 events, growth at 100 k and 300 k events.
    #[arg(long)]
    pub quick: bool,
    /// Accepted events of the main comparison's workload [default: 1,000,000; 50,000 with --quick].
    #[arg(long)]
    pub events: Option<u64>,
    /// Client threads of the concurrent phase.
    #[arg(long, default_value_t = 16)]
    pub threads: usize,
    /// Only these stores (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<Kind>,
    /// Growth-curve sizes in events (comma-separated) [default: 100k,300k,1M,3M,10M; 100k,300k with --quick].
    #[arg(long, value_delimiter = ',')]
    pub growth: Vec<u64>,
    /// Largest growth size that also builds SQLite (its counter fan-out makes the build take
    /// about 4 minutes per million events here).
    #[arg(long, default_value_t = 3_000_000)]
    pub sqlite_growth_max: u64,
    /// Skip the growth curves.
    #[arg(long)]
    pub no_growth: bool,
    /// Write docs/benchmarks.md and docs/benchmarks-growth.svg.
    #[arg(long)]
    pub write_docs: bool,
    /// Workload seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    pub bench: bool,
    /// One measurement in a child process (used by the benchmark itself).
    #[command(subcommand)]
    pub child: Option<Child>,
}

/// The measurements that run in a process of their own.
#[derive(Debug, Subcommand)]
pub enum Child {
    /// Feeds the workload to one store and prints its throughput row as JSON.
    Throughput {
        #[arg(long)]
        kind: Kind,
        #[arg(long)]
        events: u64,
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        threads: usize,
        #[arg(long)]
        single: usize,
        #[arg(long)]
        concurrent: usize,
        #[arg(long)]
        dir: PathBuf,
    },
    /// Opens a store and answers one query, printing the answer as soon as it has it.
    FirstQuery {
        #[arg(long)]
        opener: crate::run::startup::Opener,
        #[arg(long)]
        dir: PathBuf,
        /// The query, as JSON `[user, conversation]`.
        #[arg(long)]
        pair: String,
    },
}

impl Args {
    /// Accepted events of the main comparison.
    pub fn events(&self) -> u64 {
        self.events
            .unwrap_or(if self.quick { 50_000 } else { 1_000_000 })
    }

    /// Commands of the one-client phase.
    pub fn single(&self) -> usize {
        if self.quick {
            500
        } else {
            2_000
        }
    }

    /// Commands of the many-client phase.
    pub fn concurrent(&self) -> usize {
        if self.quick {
            8_000
        } else {
            40_000
        }
    }

    /// The stores to run, in table order.
    pub fn kinds(&self) -> Vec<Kind> {
        Kind::ALL
            .into_iter()
            .filter(|k| self.only.is_empty() || self.only.contains(k))
            .collect()
    }

    /// Growth sizes, empty with `--no-growth`.
    pub fn growth_sizes(&self) -> Vec<u64> {
        if self.no_growth {
            Vec::new()
        } else if !self.growth.is_empty() {
            self.growth.clone()
        } else if self.quick {
            vec![100_000, 300_000]
        } else {
            vec![100_000, 300_000, 1_000_000, 3_000_000, 10_000_000]
        }
    }
}

impl Child {
    /// Runs this measurement; its result is the last line of standard output.
    pub fn run(&self) -> crate::Result {
        match self {
            Child::Throughput {
                kind,
                events,
                seed,
                threads,
                single,
                concurrent,
                dir,
            } => {
                let plan = crate::run::plan_of(*events, *seed);
                let row = crate::run::throughput::measure(
                    *kind,
                    &plan,
                    dir,
                    *threads,
                    *single,
                    *concurrent,
                )?;
                println!("{}", serde_json::to_string(&row)?);
                Ok(())
            }
            Child::FirstQuery { opener, dir, pair } => {
                crate::run::startup::first_query(*opener, dir, pair)
            }
        }
    }
}
