//! The partitioned projections' benchmark (`cargo bench --bench partitions`): what opening,
//! memory, cold loads, rebuilds, the fold and checkpoints cost as history grows, printed as a
//! table beside the targets of the partitioned-projections issue. Each store is built from the
//! standard workload (not timed) with a checkpoint 50,000 events before its end, the tail a
//! restarting engine folds on average at the default interval.

use crate::plan::{batches, Plan};
use crate::run::startup::{self, Opener};
use crate::run::{plan_of, Counting};
use crate::Result;
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use receipt_domain::{ConversationId, Event, State};
use receipt_engine::{rebuild_checkpoints, Durability, Engine};
use receipt_store::SledLog;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Measures the partitioned projections at growing history sizes.
#[derive(Debug, Parser)]
#[command(name = "partitions")]
pub struct Args {
    /// History sizes in events (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1_000_000u64, 10_000_000])]
    pub sizes: Vec<u64>,
    /// Workload seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Commands timed one at a time for the checkpoint-pause comparison.
    #[arg(long, default_value_t = 20_000)]
    pub single: usize,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    pub bench: bool,
    /// One measurement in a child process (used by the benchmark itself).
    #[command(subcommand)]
    pub child: Option<Child>,
}

/// Measurements made in a fresh process.
#[derive(Debug, Subcommand)]
pub enum Child {
    /// Opens a store and answers one query (see `startup`).
    FirstQuery {
        /// How to open.
        #[arg(long)]
        opener: Opener,
        /// The store's directory.
        #[arg(long)]
        dir: PathBuf,
        /// The query, as JSON `[user, conversation]`.
        #[arg(long)]
        pair: String,
    },
    /// Opens the store's log only (sled and the log's checks), prints the seconds it took.
    LogOpen {
        /// The store's directory.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Opens a store with the default budget, loads every conversation once, reports.
    WorkingSet {
        /// The store's directory.
        #[arg(long)]
        dir: PathBuf,
        /// The workload's size (to know its conversations and queries).
        #[arg(long)]
        events: u64,
        /// The workload's seed.
        #[arg(long)]
        seed: u64,
    },
}

/// What the working-set child prints.
#[derive(Debug, Serialize, Deserialize)]
struct WorkingSet {
    conversations: u64,
    cold_load_p50_us: f64,
    cold_load_p99_us: f64,
    cold_load_max_us: f64,
    tail_events_loaded: u64,
    evictions: u64,
    resident_bytes_estimate: u64,
    rss_mb: f64,
    budget_mb: f64,
    hot_unread_p50_ns: f64,
    hot_unread_p99_ns: f64,
}

fn rss_mb() -> f64 {
    memory_stats::memory_stats().map_or(0.0, |m| m.physical_mem as f64 / 1e6)
}

fn conversations_of(plan: &Plan) -> Vec<ConversationId> {
    let mut seen: FxHashMap<ConversationId, ()> = FxHashMap::default();
    let mut out = Vec::new();
    for e in plan.all_events() {
        let c = e.body.conversation();
        if seen.insert(c.clone(), ()).is_none() {
            out.push(c);
        }
    }
    out
}

/// Files the parent writes for the working-set child, so the child holds no workload (its
/// resident memory is the engine's): every conversation, one JSON per line, in the order the
/// workload first used them; then the (user, conversation) pairs of the hot queries.
const CONVERSATIONS_FILE: &str = "conversations.jsonl";
const HOT_PAIRS_FILE: &str = "hot-pairs.json";

/// Writes the working-set child's inputs into `dir`.
fn write_working_set_inputs(plan: &Plan, dir: &Path) -> Result {
    let conversations = conversations_of(plan);
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join(CONVERSATIONS_FILE))?);
    for c in &conversations {
        serde_json::to_writer(&mut out, c)?;
        std::io::Write::write_all(&mut out, b"\n")?;
    }
    std::io::Write::flush(&mut out)?;
    // Hot: the readers of the 200 conversations loaded last (still resident then).
    let recent: std::collections::HashSet<&ConversationId> =
        conversations.iter().rev().take(200).collect();
    let (pairs, _) = crate::check::query_sample(plan);
    let hot: Vec<_> = pairs.iter().filter(|(_, c)| recent.contains(c)).collect();
    std::fs::write(dir.join(HOT_PAIRS_FILE), serde_json::to_vec(&hot)?)?;
    Ok(())
}

fn working_set(dir: &Path, policy: receipt_domain::Policy) -> Result {
    let options = crate::engine_options(policy);
    let budget_mb = options.memory_budget_bytes as f64 / 1e6;
    let engine = Engine::open(dir.join("engine"), options)?;
    let mut cold = Histogram::<u64>::new(3)?;
    let mut conversations = 0u64;
    let lines = std::io::BufRead::lines(std::io::BufReader::new(std::fs::File::open(
        dir.join(CONVERSATIONS_FILE),
    )?));
    for line in lines {
        let c: ConversationId = serde_json::from_str(&line?)?;
        let start = Instant::now();
        engine.with_partition(&c, |s, _| std::hint::black_box(s.events_applied()))?;
        cold.record(start.elapsed().as_nanos() as u64)?;
        conversations += 1;
    }
    let rss_after_loading_mb = rss_mb();
    let hot_pairs: Vec<(receipt_domain::UserId, ConversationId)> =
        serde_json::from_slice(&std::fs::read(dir.join(HOT_PAIRS_FILE))?)?;
    let mut hot = Histogram::<u64>::new(3)?;
    for _ in 0..20 {
        for (u, c) in &hot_pairs {
            let start = Instant::now();
            std::hint::black_box(engine.unread_count(u, c)?);
            hot.record(start.elapsed().as_nanos() as u64)?;
        }
    }
    let stats = engine.cache_stats();
    let ws = WorkingSet {
        conversations,
        cold_load_p50_us: cold.value_at_quantile(0.5) as f64 / 1e3,
        cold_load_p99_us: cold.value_at_quantile(0.99) as f64 / 1e3,
        cold_load_max_us: cold.max() as f64 / 1e3,
        tail_events_loaded: stats.tail_events_loaded,
        evictions: stats.evictions,
        resident_bytes_estimate: stats.resident_bytes,
        rss_mb: rss_after_loading_mb,
        budget_mb,
        hot_unread_p50_ns: hot.value_at_quantile(0.5) as f64,
        hot_unread_p99_ns: hot.value_at_quantile(0.99) as f64,
    };
    println!("{}", serde_json::to_string(&ws)?);
    Ok(())
}

fn live(alloc: &Counting) -> i128 {
    let s = alloc.stats();
    s.bytes_allocated as i128 - s.bytes_deallocated as i128 + s.bytes_reallocated as i128
}

/// Folds every event into per-conversation partitions (pre-decoded, as replay hands them
/// over): events per second, and heap bytes kept per event.
fn partitioned_fold(alloc: &Counting, plan: &Plan) -> (f64, f64) {
    let events: Vec<&Event> = plan.all_events().collect();
    let before = live(alloc);
    let start = Instant::now();
    let mut parts: FxHashMap<ConversationId, State> = FxHashMap::default();
    for e in &events {
        parts.entry(e.body.conversation()).or_default().apply(e);
    }
    let rate = events.len() as f64 / start.elapsed().as_secs_f64();
    let bytes = (live(alloc) - before).max(0) as f64 / events.len().max(1) as f64;
    std::hint::black_box(parts);
    (rate, bytes)
}

/// Seconds to open the store's log alone (sled's recovery and the log's checks), in fresh
/// processes: the median of three.
fn log_open_s(dir: &Path) -> Result<f64> {
    let mut runs = Vec::new();
    for _ in 0..3 {
        let out = std::process::Command::new(std::env::current_exe()?)
            .arg("log-open")
            .arg("--dir")
            .arg(dir)
            .stderr(std::process::Stdio::inherit())
            .output()?;
        if !out.status.success() {
            return Err(format!("the log-open child failed ({})", out.status).into());
        }
        runs.push(String::from_utf8_lossy(&out.stdout).trim().parse::<f64>()?);
    }
    runs.sort_by(f64::total_cmp);
    Ok(runs[1])
}

/// Commit latency, one command at a time with group commit, with a checkpoint every
/// `every` events or none: p50, p99, p99.9 in µs, and the engine's checkpoint pauses.
fn commits(plan: &Plan, dir: &Path, every: Option<u64>, single: usize) -> Result<[f64; 5]> {
    let options = crate::engine_options(plan.config.policy()).with_checkpoint_every(every);
    let engine = Engine::open(dir, options)?;
    let base = plan.commands.len().saturating_sub(single);
    for batch in batches(&plan.commands[..base], 2_000) {
        engine.execute_batch(batch.iter().map(|p| p.command.clone()).collect())?;
    }
    let mut h = Histogram::<u64>::new(3)?;
    for p in &plan.commands[base..] {
        let start = Instant::now();
        match engine.execute_command(p.command.clone()) {
            Ok(_) | Err(receipt_engine::EngineError::Rejected(_)) => {}
            Err(e) => return Err(e.into()),
        }
        h.record(start.elapsed().as_nanos() as u64)?;
    }
    let stats = engine.cache_stats();
    Ok([
        h.value_at_quantile(0.5) as f64 / 1e3,
        h.value_at_quantile(0.99) as f64 / 1e3,
        h.value_at_quantile(0.999) as f64 / 1e3,
        stats.checkpoints as f64,
        stats.longest_checkpoint_pause_us as f64,
    ])
}

/// Runs the benchmark (or a child measurement).
pub fn main(alloc: &'static Counting) -> Result {
    let args = Args::parse();
    match &args.child {
        Some(Child::FirstQuery { opener, dir, pair }) => {
            return startup::first_query(*opener, dir, pair)
        }
        Some(Child::WorkingSet { dir, events, seed }) => {
            // The policy only: the workload itself stays in the parent.
            let commands = events + events / 2;
            let policy = receipt_workload::WorkloadConfig::sized(commands, *seed).policy();
            return working_set(dir, policy);
        }
        Some(Child::LogOpen { dir }) => {
            let start = Instant::now();
            let log = SledLog::open_dir(&dir.join("engine"), Durability::GroupCommit)?;
            println!("{}", start.elapsed().as_secs_f64());
            drop(log);
            return Ok(());
        }
        None => {}
    }
    let scratch = tempfile::Builder::new()
        .prefix("receipts-partitions-")
        .tempdir()?;
    let mut lines = vec![
        "| events | start → first answer: after a crash (50 k-event tail) | after a clean close | of which the log's open (sled) | its RSS | cold load p50 / p99 / max | RSS after loading every conversation (budget) | hot unread p50 / p99 | rebuild, 2 fold threads (decode + fold) | in-memory partitioned fold | state bytes/event |".to_string(),
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |".to_string(),
    ];
    for &events in &args.sizes {
        eprintln!("{events} events: deciding the workload...");
        let plan = plan_of(events, args.seed);
        let dir = scratch.path().join(format!("size-{events}"));
        eprintln!("{events} events: building the store...");
        crate::run::growth::build_engine(&plan, &dir)?;
        eprintln!("{events} events: start → first answer...");
        let started = startup::measure(Opener::Engine, &dir, &plan, 3)?;
        eprintln!("{events} events: loading every conversation in a fresh process...");
        write_working_set_inputs(&plan, &dir)?;
        let out = std::process::Command::new(std::env::current_exe()?)
            .args(["working-set", "--events", &events.to_string()])
            .args(["--seed", &args.seed.to_string()])
            .arg("--dir")
            .arg(&dir)
            .stderr(std::process::Stdio::inherit())
            .output()?;
        if !out.status.success() {
            return Err(format!("the working-set child failed ({})", out.status).into());
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let ws: WorkingSet = serde_json::from_str(stdout.trim().lines().last().unwrap_or(""))?;
        eprintln!("{events} events: rebuilding every checkpoint...");
        let log = SledLog::open_dir(&dir.join("engine"), Durability::Buffered)?;
        let rebuilt = rebuild_checkpoints(&log, 2)?;
        drop(log);
        // The rebuild left the checkpoint at the head: what a restart after a clean close sees.
        eprintln!("{events} events: start → first answer after a clean close...");
        let clean = startup::measure(Opener::Engine, &dir, &plan, 3)?;
        let log_open = log_open_s(&dir)?;
        eprintln!("{events} events: folding in memory...");
        let (fold_rate, bytes_per_event) = partitioned_fold(alloc, &plan);
        lines.push(format!(
            "| {events} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} MB | {:.0} / {:.0} / {:.0} µs ({} conversations, {} tail events loaded) | {:.0} MB ({:.0} MB; {} evictions) | {:.2} / {:.2} µs | {:.2} M ev/s fold, {:.1} s writing | {:.2} M ev/s | {:.0} B |",
            started.wall_s * 1e3,
            clean.wall_s * 1e3,
            log_open * 1e3,
            clean.rss_mb,
            ws.cold_load_p50_us,
            ws.cold_load_p99_us,
            ws.cold_load_max_us,
            ws.conversations,
            ws.tail_events_loaded,
            ws.rss_mb,
            ws.budget_mb,
            ws.evictions,
            ws.hot_unread_p50_ns / 1e3,
            ws.hot_unread_p99_ns / 1e3,
            rebuilt.events as f64 / rebuilt.fold.as_secs_f64() / 1e6,
            rebuilt.write.as_secs_f64(),
            fold_rate / 1e6,
            bytes_per_event,
        ));
        std::fs::remove_dir_all(&dir)?;
        eprintln!("{}", lines.last().map_or("", String::as_str));
    }
    eprintln!("commit latency with and without checkpoints...");
    let plan = plan_of(200_000, args.seed);
    let without = commits(&plan, &scratch.path().join("none"), None, args.single)?;
    let with = commits(
        &plan,
        &scratch.path().join("every"),
        Some(2_000),
        args.single,
    )?;
    lines.push(String::new());
    lines.push(format!("| {} single commands after 200 k events, group commit | p50 | p99 | p99.9 | checkpoints | longest pause |", args.single));
    lines.push("| --- | ---: | ---: | ---: | ---: | ---: |".to_string());
    for (label, r) in [
        ("no checkpoint", without),
        ("a checkpoint every 2,000 events", with),
    ] {
        lines.push(format!(
            "| {label} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} | {:.0} µs |",
            r[0], r[1], r[2], r[3], r[4]
        ));
    }
    lines.push(format!(
        "\np99.9 with checkpoints / without: {:.2}×",
        with[2] / without[2].max(1e-9)
    ));
    println!("{}", lines.join("\n"));
    Ok(())
}
