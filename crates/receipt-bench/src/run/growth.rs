//! Growth curves: how opening, memory, disk and the fold scale with history. At each size a
//! store of each kind is built from the same workload (not timed), then opened in fresh
//! processes; each figure's fitted exponent says how it grows (1 = linearly).

use crate::plan::{batches, Plan};
use crate::run::args::Args;
use crate::run::startup::{self, Opener, Startup};
use crate::run::{memory, plan_of, Counting};
use crate::stores::{self, Kind};
use crate::Result;
use receipt_engine::{Durability, Engine};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// Events after the checkpoint at each size: half the default checkpoint interval, the
/// average tail a restarting engine folds.
pub const SNAPSHOT_TAIL_EVENTS: u64 = 50_000;

/// The figures at one size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Point {
    pub events: u64,
    pub engine_snapshot: Startup,
    pub engine_replay: Startup,
    /// `None` above `--sqlite-growth-max` (building it takes too long; see the report).
    pub sqlite: Option<Startup>,
    pub engine_disk_bytes_per_event: f64,
    pub sqlite_disk_bytes_per_event: Option<f64>,
    pub fold_events_per_s: f64,
}

/// The slope of `ln y` against `ln x` (least squares): y grows as x to this power.
pub fn exponent(points: &[(f64, f64)]) -> Option<f64> {
    let logs: Vec<(f64, f64)> = points
        .iter()
        .filter(|(x, y)| *x > 0.0 && *y > 0.0)
        .map(|(x, y)| (x.ln(), y.ln()))
        .collect();
    if logs.len() < 2 {
        return None;
    }
    let n = logs.len() as f64;
    let (mx, my) = (
        logs.iter().map(|p| p.0).sum::<f64>() / n,
        logs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = logs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = logs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Builds the engine's store of `plan` in `dir/engine` through `execute_batch` (buffered,
/// flushed at the end), with one checkpoint [`SNAPSHOT_TAIL_EVENTS`] before the end and none
/// at the close, so every opening folds that tail. The build is not measured: its budget is
/// large enough not to thrash (with the default one a 10 M-event build evicts and reloads
/// large groups over and over, ~4.6 k events/s) and small enough to fit beside the 10 M-event
/// workload (8 GiB ran out of memory).
pub(crate) fn build_engine(plan: &Plan, dir: &Path) -> Result {
    let options = crate::engine_options(plan.config.policy())
        .with_durability(Durability::Buffered)
        .with_checkpoint_every(None)
        .with_memory_budget(2 << 30);
    let engine = Engine::open(dir.join("engine"), options)?;
    let checkpoint_at = plan.events.saturating_sub(SNAPSHOT_TAIL_EVENTS);
    let mut done = false;
    for batch in batches(&plan.commands, 2_000) {
        if !done && engine.head() >= checkpoint_at {
            engine.checkpoint()?;
            done = true;
        }
        engine.execute_batch(batch.iter().map(|p| p.command.clone()).collect())?;
    }
    if !done {
        engine.checkpoint()?;
    }
    engine.flush()?;
    Ok(())
}

fn build_sqlite(plan: &Plan, dir: &Path) -> Result {
    let store = stores::open(Kind::SqliteWriter, dir, plan.config.policy())?;
    for batch in batches(&plan.commands, 1_000) {
        store.batch(batch)?;
    }
    store.close()
}

/// Measures every growth size.
pub fn measure(args: &Args, _alloc: &'static Counting, scratch: &Path) -> Result<Vec<Point>> {
    let mut points = Vec::new();
    for events in args.growth_sizes() {
        let started = Instant::now();
        eprintln!("growth: {events} events: deciding...");
        let plan = plan_of(events, args.seed);
        let dir = scratch.join(format!("growth-{events}"));
        eprintln!("growth: {events} events: building the engine's store...");
        build_engine(&plan, &dir)?;
        let with_sqlite = events <= args.sqlite_growth_max;
        if with_sqlite {
            eprintln!("growth: {events} events: building SQLite...");
            build_sqlite(&plan, &dir)?;
        }
        let runs = 3;
        eprintln!("growth: {events} events: opening...");
        let point = Point {
            events: plan.events,
            engine_snapshot: startup::measure(Opener::Engine, &dir, &plan, runs)?,
            engine_replay: startup::measure(Opener::EngineReplay, &dir, &plan, runs)?,
            sqlite: if with_sqlite {
                Some(startup::measure(Opener::Sqlite, &dir, &plan, runs)?)
            } else {
                None
            },
            engine_disk_bytes_per_event: stores::size_on_disk(&dir.join("engine")) as f64
                / plan.events as f64,
            sqlite_disk_bytes_per_event: with_sqlite.then(|| {
                crate::sqlite_schema::disk_bytes(&dir.join("receipts.sqlite")) as f64
                    / plan.events as f64
            }),
            fold_events_per_s: memory::fold_rate(&plan, 1),
        };
        std::fs::remove_dir_all(&dir)?;
        eprintln!(
            "growth: {events} events done in {:.0} s: {}",
            started.elapsed().as_secs_f64(),
            serde_json::to_string(&point)?
        );
        points.push(point);
    }
    Ok(points)
}
