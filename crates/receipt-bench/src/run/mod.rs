//! The benchmark program behind `cargo bench --bench compare`: parses the arguments, runs each
//! store in a child process of its own (so no figure includes another store's memory or
//! cache), and prints (or, with `--write-docs`, writes) the report.

mod args;
pub(crate) mod growth;
mod memory;
mod plot;
mod report;
pub mod startup;
pub mod throughput;

pub use args::Args;

use crate::plan::Plan;
use crate::Result;
use clap::Parser;
use receipt_workload::WorkloadConfig;
use stats_alloc::StatsAlloc;
use std::alloc::System;

/// The allocator the benchmark binary installs, so the state's heap bytes can be counted.
pub type Counting = StatsAlloc<System>;

/// The workload of `events` accepted events, seed `seed`.
pub fn plan_of(events: u64, seed: u64) -> Plan {
    // Some commands are rejected or no-ops: generate enough of them to reach `events`.
    let commands = events + events / 2;
    Plan::decide(&WorkloadConfig::sized(commands, seed), Some(events))
}

/// Runs the benchmark (or, when invoked as a child, one measurement).
pub fn main(alloc: &'static Counting) -> Result {
    let args = Args::parse();
    if let Some(child) = &args.child {
        return child.run();
    }
    let events = args.events();
    eprintln!(
        "deciding the workload ({events} events, seed {})...",
        args.seed
    );
    let plan = plan_of(events, args.seed);
    let scratch = tempfile::Builder::new()
        .prefix("receipts-compare-")
        .tempdir()?;
    let mut rows = Vec::new();
    for kind in args.kinds() {
        eprintln!("running {}...", kind.title());
        let dir = scratch.path().join(kind.cli_name());
        let mut row = throughput::in_child(kind, &args, &dir)?;
        row.startup = startup::measure_all(kind, &dir, &plan, 3)?;
        rows.push(row);
        // Keep the disk small: the next store does not need this one.
        std::fs::remove_dir_all(&dir)?;
    }
    eprintln!("measuring the fold and the state's memory in process...");
    let core = memory::measure(alloc, &plan);
    let growth = if args.growth_sizes().is_empty() {
        Vec::new()
    } else {
        growth::measure(&args, alloc, scratch.path())?
    };
    let report = report::render(&args, &plan, &rows, &core, &growth);
    println!("{report}");
    if args.write_docs {
        report::write_docs(&args, &report, &growth)?;
    }
    Ok(())
}
