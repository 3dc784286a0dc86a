//! The timed phases on one store, in a process of its own: the bulk of the workload in
//! batches of about 1,000 events, then single commands from one client, then commands from
//! many clients at once; then the projections are checked against the reference, queries
//! timed, the store closed cleanly and its size taken.

use crate::plan::{batches, by_conversation, events_in, Plan, Planned};
use crate::run::args::Args;
use crate::run::startup::Startup;
use crate::stores::{self, Kind, Store};
use crate::Result;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// Events per batch in the bulk phase.
pub const BULK_BATCH_EVENTS: u64 = 1_000;

/// Percentiles of a latency histogram.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest sample.
    pub max: u64,
    /// Samples recorded.
    pub samples: u64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Self {
        Self {
            p50: h.value_at_quantile(0.5),
            p99: h.value_at_quantile(0.99),
            max: h.max(),
            samples: h.len(),
        }
    }
}

/// One store's figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Row {
    /// The store.
    pub kind: Option<Kind>,
    /// Accepted events of the whole workload.
    pub events: u64,
    /// Events of the bulk phase.
    pub bulk_events: u64,
    /// Bulk phase rate.
    pub bulk_events_per_s: f64,
    /// Commands of the one-client phase.
    pub single_commands: u64,
    /// Their accepted events.
    pub single_events: u64,
    /// Microseconds per command, one client.
    pub single_us: Latency,
    /// Clients of the concurrent phase.
    pub threads: usize,
    /// Commands of the concurrent phase.
    pub concurrent_commands: u64,
    /// Their accepted events.
    pub concurrent_events: u64,
    /// Concurrent phase rate.
    pub concurrent_events_per_s: f64,
    /// Microseconds per command, each of the many clients.
    pub concurrent_us: Latency,
    /// Nanoseconds per unread query after the run (None: the store keeps no projections).
    pub unread_ns: Option<Latency>,
    /// Bytes on disk after a clean close, per accepted event.
    pub disk_bytes_per_event: f64,
    /// Filled by the parent: reopening this very store.
    #[serde(default)]
    pub startup: Vec<Startup>,
}

fn histogram() -> Result<Histogram<u64>> {
    Ok(Histogram::new(3)?)
}

/// Runs the phases on `kind` in `dir` and returns its row.
pub fn measure(
    kind: Kind,
    plan: &Plan,
    dir: &Path,
    threads: usize,
    single: usize,
    concurrent: usize,
) -> Result<Row> {
    let store = stores::open(kind, dir, plan.config.policy())?;
    let phases = plan.phases(single, concurrent);
    let mut row = Row {
        kind: Some(kind),
        events: plan.events,
        threads,
        ..Row::default()
    };

    let start = Instant::now();
    for batch in batches(phases.bulk, BULK_BATCH_EVENTS) {
        store.batch(batch)?;
    }
    row.bulk_events = events_in(phases.bulk);
    row.bulk_events_per_s = row.bulk_events as f64 / start.elapsed().as_secs_f64();

    let mut h = histogram()?;
    let mut client = store.client()?;
    for p in phases.single {
        let t = Instant::now();
        client.command(p)?;
        h.record(t.elapsed().as_micros() as u64)?;
    }
    drop(client);
    row.single_commands = phases.single.len() as u64;
    row.single_events = events_in(phases.single);
    row.single_us = Latency::of(&h);

    let parts = by_conversation(phases.concurrent, threads);
    let start = Instant::now();
    let histograms = concurrent_phase(store.as_ref(), &parts)?;
    let elapsed = start.elapsed().as_secs_f64();
    let mut h = histogram()?;
    for part in &histograms {
        h.add(part)?;
    }
    row.concurrent_commands = phases.concurrent.len() as u64;
    row.concurrent_events = events_in(phases.concurrent);
    row.concurrent_events_per_s = row.concurrent_events as f64 / elapsed;
    row.concurrent_us = Latency::of(&h);

    store.verify(plan)?;
    row.unread_ns = unread_latency(store.as_ref(), plan, kind)?;
    store.close()?;
    row.disk_bytes_per_event = stores::size_on_disk(dir) as f64 / plan.events as f64;
    Ok(row)
}

/// Each part from its own client thread; returns each thread's latencies (µs).
fn concurrent_phase(store: &dyn Store, parts: &[Vec<Planned>]) -> Result<Vec<Histogram<u64>>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .map(|part| {
                scope.spawn(move || -> Result<Histogram<u64>> {
                    let mut h = histogram()?;
                    let mut client = store.client()?;
                    for p in part {
                        let t = Instant::now();
                        client.command(p)?;
                        h.record(t.elapsed().as_micros() as u64)?;
                    }
                    Ok(h)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "a client thread panicked")?)
            .collect()
    })
}

/// Unread queries on (user, conversation) pairs of the workload, after the run.
fn unread_latency(store: &dyn Store, plan: &Plan, kind: Kind) -> Result<Option<Latency>> {
    let (pairs, _) = crate::check::query_sample(plan);
    // COUNT(*) is a scan per query: fewer samples say the same.
    let samples = if kind == Kind::SqliteCount {
        2_000
    } else {
        20_000
    };
    let step = pairs.len().div_ceil(samples).max(1);
    let mut h = histogram()?;
    for (u, c) in pairs.iter().step_by(step) {
        let t = Instant::now();
        if std::hint::black_box(store.unread(u, c)?).is_none() {
            return Ok(None);
        }
        h.record(t.elapsed().as_nanos() as u64)?;
    }
    Ok(Some(Latency::of(&h)))
}

/// Runs [`measure`] in a child process and returns its row.
pub fn in_child(kind: Kind, args: &Args, dir: &Path) -> Result<Row> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(["throughput", "--kind", kind.cli_name()])
        .args(["--events", &args.events().to_string()])
        .args(["--seed", &args.seed.to_string()])
        .args(["--threads", &args.threads.to_string()])
        .args(["--single", &args.single().to_string()])
        .args(["--concurrent", &args.concurrent().to_string()])
        .arg("--dir")
        .arg(dir)
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("{} failed ({})", kind.title(), out.status).into());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().ok_or("the child printed nothing")?;
    Ok(serde_json::from_str(line)?)
}
