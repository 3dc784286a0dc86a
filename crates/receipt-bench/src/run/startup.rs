//! What a restarting service sees: the real time from starting a process to its first answered
//! query, on the very store a throughput run left behind (or a growth-curve store), each open
//! in a fresh process that does nothing else, which also reports its resident memory.

use crate::plan::Plan;
use crate::stores::Kind;
use crate::Result;
use receipt_domain::{ConversationId, Policy, UserId};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
pub enum Opener {
    /// `Engine::open`: the checkpoint marker, then the log after it.
    Engine,
    /// The log replayed from the start and folded (what happens without a usable snapshot).
    EngineReplay,
    /// SQLite with counter tables: open, then one counter lookup.
    Sqlite,
    /// SQLite without counters: open, then one `COUNT(*)`.
    SqliteCount,
}

impl Opener {
    /// The row label.
    pub fn title(self) -> &'static str {
        match self {
            Opener::Engine => "engine, from checkpoint + tail",
            Opener::EngineReplay => "engine, full replay",
            Opener::Sqlite => "SQLite + counters",
            Opener::SqliteCount => "SQLite COUNT(*)",
        }
    }

    /// The ways to open what `kind` stored.
    pub fn for_kind(kind: Kind) -> &'static [Opener] {
        match kind {
            Kind::Engine => &[Opener::Engine, Opener::EngineReplay],
            Kind::SqliteWriter => &[Opener::Sqlite],
            Kind::SqliteCount => &[Opener::SqliteCount],
            // The same file as the batching writer's; raw sled keeps no projections.
            Kind::SqliteConnections | Kind::RawSled => &[],
        }
    }
}

/// What the child prints.
#[derive(Debug, Serialize, Deserialize)]
struct Answered {
    unread: u32,
    /// Seconds from the child's `main` to the answer (excludes exec and loading the binary).
    open_s: f64,
    rss_bytes: u64,
}

/// One opener's figures (medians over the runs).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Startup {
    /// How the store was opened.
    pub opener: Opener,
    /// Process start to first answered query, seconds.
    pub wall_s: f64,
    /// Of which inside the process, seconds.
    pub open_s: f64,
    /// Resident memory once the answer was given, MB.
    pub rss_mb: f64,
    /// Processes started.
    pub runs: usize,
}

/// In the child: open, answer, report, exit.
pub fn first_query(opener: Opener, dir: &Path, pair: &str) -> Result {
    let start = Instant::now();
    let (user, conversation): (UserId, ConversationId) = serde_json::from_str(pair)?;
    // The store stays open until the answer is out, like a service's would.
    open_and_answer(opener, dir, &user, &conversation, |unread| {
        report(unread, start)
    })
}

/// Opens what `opener` opens in `dir`, answers the unread count of `user` in `conversation`
/// and hands it to `answer` while the store is still open.
pub fn open_and_answer(
    opener: Opener,
    dir: &Path,
    user: &UserId,
    conversation: &ConversationId,
    answer: impl FnOnce(u32) -> Result,
) -> Result {
    let unread = match opener {
        Opener::Engine => {
            // No checkpoint at the close: every run folds the same tail, as a restart would.
            let options =
                crate::engine_options(Policy::all_receipts_on()).with_checkpoint_every(None);
            let engine = receipt_engine::Engine::open(dir.join("engine"), options)?;
            return answer(engine.unread_count(user, conversation)?);
        }
        Opener::EngineReplay => {
            let log = receipt_store::SledLog::open_dir(
                &dir.join("engine"),
                receipt_store::Durability::GroupCommit,
            )?;
            let (_, state) = log.rebuild()?;
            state.unread_count(user, conversation)
        }
        Opener::Sqlite | Opener::SqliteCount => {
            let counters = opener == Opener::Sqlite;
            let conn =
                crate::sqlite_schema::open_connection(&dir.join("receipts.sqlite"), counters)?;
            let n = crate::sqlite_schema::unread_on(&conn, counters, user, conversation)?;
            return answer(n);
        }
    };
    answer(unread)
}

fn report(unread: u32, start: Instant) -> Result {
    let open_s = start.elapsed().as_secs_f64();
    let rss_bytes = memory_stats::memory_stats().map_or(0, |m| m.physical_mem as u64);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}",
        serde_json::to_string(&Answered {
            unread,
            open_s,
            rss_bytes
        })?
    )?;
    out.flush()?;
    Ok(())
}

/// A (user, conversation) pair with unread messages, and its reference answer.
fn probe(plan: &Plan) -> Result<(String, u32)> {
    let (pairs, _) = crate::check::query_sample(plan);
    let (u, c) = pairs
        .iter()
        .find(|(u, c)| plan.state.unread_count(u, c) > 0)
        .or(pairs.first())
        .ok_or("the workload has no read state")?;
    Ok((
        serde_json::to_string(&(u, c))?,
        plan.state.unread_count(u, c),
    ))
}

/// Runs `opener` `runs` times on `dir` in fresh processes; medians.
pub fn measure(opener: Opener, dir: &Path, plan: &Plan, runs: usize) -> Result<Startup> {
    let (pair, want) = probe(plan)?;
    let mut samples = Vec::new();
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let mut child = Command::new(std::env::current_exe()?)
            .args(["first-query", "--opener"])
            .arg(
                clap::ValueEnum::to_possible_value(&opener)
                    .map_or_else(String::new, |v| v.get_name().to_string()),
            )
            .arg("--dir")
            .arg(dir)
            .args(["--pair", &pair])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
        let wall_s = start.elapsed().as_secs_f64();
        let status = child.wait()?;
        if !status.success() {
            return Err(format!("{} failed ({status})", opener.title()).into());
        }
        let answered: Answered = serde_json::from_str(line.trim())?;
        if answered.unread != want {
            return Err(format!(
                "{} answered {} after reopening, the reference says {want}",
                opener.title(),
                answered.unread
            )
            .into());
        }
        samples.push((wall_s, answered.open_s, answered.rss_bytes as f64 / 1e6));
    }
    let median = |f: fn(&(f64, f64, f64)) -> f64| {
        let mut v: Vec<f64> = samples.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok(Startup {
        opener,
        wall_s: median(|s| s.0),
        open_s: median(|s| s.1),
        rss_mb: median(|s| s.2),
        runs: samples.len(),
    })
}

/// Every way to open what `kind` stored.
pub fn measure_all(kind: Kind, dir: &Path, plan: &Plan, runs: usize) -> Result<Vec<Startup>> {
    Opener::for_kind(kind)
        .iter()
        .map(|&o| measure(o, dir, plan, runs))
        .collect()
}
