//! The report: markdown tables printed by every run and, with `--write-docs`, written to
//! docs/benchmarks.md (everything after the analysis marker is hand-written and kept).

use crate::plan::Plan;
use crate::run::args::Args;
use crate::run::growth::{exponent, Point};
use crate::run::memory::Core;
use crate::run::startup::Opener;
use crate::run::throughput::Row;
use crate::stores::Kind;
use crate::Result;
use std::fmt::Write as _;
use std::path::Path;

/// Everything after this line in docs/benchmarks.md is written by hand and kept.
pub const ANALYSIS_MARKER: &str =
    "<!-- analysis: written by hand, kept when the tables above are regenerated -->";

fn line(s: &mut String, cells: &[String]) {
    let _ = writeln!(s, "| {} |", cells.join(" | "));
}

fn row_of(rows: &[Row], kind: Kind) -> Option<&Row> {
    rows.iter().find(|r| r.kind == Some(kind))
}

/// `engine / other` as "2.1× better" style text, `higher`: larger figures are better.
fn versus(engine: f64, other: f64, higher: bool) -> String {
    if engine <= 0.0 || other <= 0.0 {
        return String::new();
    }
    let r = if higher {
        engine / other
    } else {
        other / engine
    };
    format!(" (engine {r:.2}×)")
}

fn writes_table(s: &mut String, rows: &[Row]) {
    let engine = row_of(rows, Kind::Engine);
    let mut header = vec!["measure".to_string()];
    header.extend(
        rows.iter()
            .filter_map(|r| r.kind)
            .map(|k| k.title().to_string()),
    );
    line(s, &header);
    line(s, &vec!["---".to_string(); header.len()]);
    type Figure = fn(&Row) -> Option<f64>;
    let metrics: [(&str, Figure, &str, bool); 9] = [
        (
            "batched commands, ~1,000 events per commit, 1 client",
            |r| Some(r.bulk_events_per_s / 1e3),
            "k events/s",
            true,
        ),
        (
            "single commands, 1 client: p50",
            |r| Some(r.single_us.p50 as f64),
            "µs",
            false,
        ),
        (
            "single commands, 1 client: p99",
            |r| Some(r.single_us.p99 as f64),
            "µs",
            false,
        ),
        (
            "commands from 16 clients",
            |r| Some(r.concurrent_events_per_s / 1e3),
            "k events/s",
            true,
        ),
        (
            "16 clients: p50 per command",
            |r| Some(r.concurrent_us.p50 as f64),
            "µs",
            false,
        ),
        (
            "16 clients: p99 per command",
            |r| Some(r.concurrent_us.p99 as f64),
            "µs",
            false,
        ),
        (
            "unread query after the run: p50",
            |r| r.unread_ns.as_ref().map(|l| l.p50 as f64),
            "ns",
            false,
        ),
        (
            "unread query after the run: p99",
            |r| r.unread_ns.as_ref().map(|l| l.p99 as f64),
            "ns",
            false,
        ),
        (
            "disk per event after a clean close",
            |r| Some(r.disk_bytes_per_event),
            "B",
            false,
        ),
    ];
    for (name, f, unit, higher) in metrics {
        let base = engine.and_then(f).unwrap_or(0.0);
        let mut cells = vec![name.to_string()];
        for r in rows {
            cells.push(match f(r) {
                None => "-".into(),
                Some(v) if r.kind == Some(Kind::Engine) => format!("{v:.1} {unit}"),
                Some(v) => format!("{v:.1} {unit}{}", versus(base, v, higher)),
            });
        }
        line(s, &cells);
    }
}

fn startup_table(s: &mut String, rows: &[Row]) {
    line(
        s,
        &[
            "store, opened by",
            "process start → first answer",
            "of which in the process",
            "replay + fold rate",
            "resident memory then",
        ]
        .map(String::from),
    );
    line(s, &vec!["---".to_string(); 5]);
    for r in rows {
        for st in &r.startup {
            let rate = if st.opener == Opener::EngineReplay {
                format!("{:.2} M events/s", r.events as f64 / st.open_s / 1e6)
            } else {
                "-".into()
            };
            line(
                s,
                &[
                    st.opener.title().to_string(),
                    format!("{:.0} ms", st.wall_s * 1e3),
                    format!("{:.0} ms", st.open_s * 1e3),
                    rate,
                    format!("{:.0} MB", st.rss_mb),
                ],
            );
        }
    }
}

fn core_table(s: &mut String, core: &Core) {
    let _ = writeln!(
        s,
        "Fold of the workload's {} events ({} messages) into a new state, events already decoded: \
         **{:.2} M events/s** (median of 3). Heap the state keeps, {:.1} MB in all ({:.0} B per event), by event kind:\n",
        core.events,
        core.messages,
        core.fold_events_per_s / 1e6,
        core.state_bytes as f64 / 1e6,
        core.state_bytes as f64 / core.events.max(1) as f64
    );
    line(
        s,
        &[
            "event".into(),
            "events".into(),
            "heap bytes kept per event".into(),
        ],
    );
    line(s, &vec!["---".to_string(); 3]);
    for k in &core.per_kind {
        line(
            s,
            &[
                k.kind.clone(),
                k.events.to_string(),
                format!("{:.1}", k.bytes_per_event),
            ],
        );
    }
}

fn targets_table(s: &mut String, rows: &[Row], core: &Core) {
    let e = row_of(rows, Kind::Engine);
    let w = row_of(rows, Kind::SqliteWriter);
    let ratio = |f: fn(&Row) -> f64| match (e, w) {
        (Some(e), Some(w)) if f(w) > 0.0 => Some(f(e) / f(w)),
        _ => None,
    };
    let startup = |r: Option<&Row>, o: Opener| {
        r.and_then(|r| r.startup.iter().find(|st| st.opener == o))
            .map(|st| st.wall_s)
    };
    let start_ratio = match (startup(e, Opener::Engine), startup(w, Opener::Sqlite)) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    line(
        s,
        &[
            "measure".into(),
            "target".into(),
            "measured".into(),
            "met".into(),
        ],
    );
    line(s, &vec!["---".to_string(); 4]);
    let mut target = |name: &str,
                      goal: &str,
                      got: Option<f64>,
                      ok: &dyn Fn(f64) -> bool,
                      fmt: &dyn Fn(f64) -> String| {
        let (measured, met) = match got {
            Some(v) => (
                fmt(v),
                if ok(v) {
                    "yes".to_string()
                } else {
                    "**no**".to_string()
                },
            ),
            None => ("not run".to_string(), "-".to_string()),
        };
        line(s, &[name.to_string(), goal.to_string(), measured, met]);
    };
    target(
        "durable commands, 16 clients, engine / SQLite batching writer",
        "≥ 2×",
        ratio(|r| r.concurrent_events_per_s),
        &|v| v >= 2.0,
        &|v| format!("{v:.2}×"),
    );
    target(
        "durable batches of ~1,000 events, engine / SQLite writer with counters",
        "≥ 5×",
        ratio(|r| r.bulk_events_per_s),
        &|v| v >= 5.0,
        &|v| format!("{v:.2}×"),
    );
    target(
        "single-command durable commit p99, engine / SQLite",
        "≤ 1×",
        ratio(|r| r.single_us.p99 as f64),
        &|v| v <= 1.0,
        &|v| format!("{v:.2}×"),
    );
    target(
        "process start → first answer, engine (snapshot) / SQLite with counters",
        "≤ 2×",
        start_ratio,
        &|v| v <= 2.0,
        &|v| format!("{v:.1}×"),
    );
    target(
        "fold, standard workload",
        "≥ 10 M events/s",
        Some(core.fold_events_per_s / 1e6),
        &|v| v >= 10.0,
        &|v| format!("{v:.2} M events/s"),
    );
}

fn growth_table(s: &mut String, points: &[Point]) {
    line(
        s,
        &[
            "events",
            "engine open, snapshot + tail",
            "engine open, full replay",
            "SQLite open",
            "engine resident (snapshot)",
            "engine resident (replay)",
            "SQLite resident",
            "engine disk/event",
            "SQLite disk/event",
            "fold rate",
        ]
        .map(String::from),
    );
    line(s, &vec!["---".to_string(); 10]);
    for p in points {
        line(
            s,
            &[
                p.events.to_string(),
                format!("{:.3} s", p.engine_snapshot.wall_s),
                format!("{:.3} s", p.engine_replay.wall_s),
                p.sqlite
                    .as_ref()
                    .map_or("not built".into(), |s| format!("{:.3} s", s.wall_s)),
                format!("{:.0} MB", p.engine_snapshot.rss_mb),
                format!("{:.0} MB", p.engine_replay.rss_mb),
                p.sqlite
                    .as_ref()
                    .map_or("-".into(), |s| format!("{:.0} MB", s.rss_mb)),
                format!("{:.0} B", p.engine_disk_bytes_per_event),
                p.sqlite_disk_bytes_per_event
                    .map_or("-".into(), |b| format!("{b:.0} B")),
                format!("{:.2} M/s", p.fold_events_per_s / 1e6),
            ],
        );
    }
    type Figure = fn(&Point) -> Option<f64>;
    let figures: [Figure; 9] = [
        |p| Some(p.engine_snapshot.wall_s),
        |p| Some(p.engine_replay.wall_s),
        |p| p.sqlite.as_ref().map(|s| s.wall_s),
        |p| Some(p.engine_snapshot.rss_mb),
        |p| Some(p.engine_replay.rss_mb),
        |p| p.sqlite.as_ref().map(|s| s.rss_mb),
        |p| Some(p.engine_disk_bytes_per_event),
        |p| p.sqlite_disk_bytes_per_event,
        |p| Some(p.fold_events_per_s),
    ];
    let mut cells = vec!["fitted exponent (n^x)".to_string()];
    for f in figures {
        let xy: Vec<(f64, f64)> = points
            .iter()
            .filter_map(|p| Some((p.events as f64, f(p)?)))
            .collect();
        cells.push(exponent(&xy).map_or("-".into(), |x| format!("{x:.2}")));
    }
    line(s, &cells);
}

/// The whole report.
pub fn render(args: &Args, plan: &Plan, rows: &[Row], core: &Core, growth: &[Point]) -> String {
    let mut s = String::new();
    let r0 = rows.first();
    let _ = writeln!(
        s,
        "Workload: seed {}, {} commands → {} accepted events. Phases, in workload order: the bulk \
         ({} events) in batches of ~1,000 events; {} single commands from one client; {} commands \
         from {} clients, each client owning the conversations that hash to it.\n",
        args.seed,
        plan.commands.len(),
        plan.events,
        r0.map_or(0, |r| r.bulk_events),
        r0.map_or(0, |r| r.single_commands),
        r0.map_or(0, |r| r.concurrent_commands),
        args.threads
    );
    let _ = writeln!(s, "### Writes and queries (ratios: the engine against that column; > 1× means the engine is better)\n");
    writes_table(&mut s, rows);
    let _ = writeln!(s, "\n### Restart: a fresh process opens the store the run above left, and answers one unread query (median of 3)\n");
    startup_table(&mut s, rows);
    let _ = writeln!(s, "\n### The engine's core, in the benchmark process\n");
    core_table(&mut s, core);
    let _ = writeln!(s, "\n### Targets (from the benchmarks issue)\n");
    targets_table(&mut s, rows, core);
    if !growth.is_empty() {
        let _ = writeln!(
            s,
            "\n### Growth: each size built from the workload of that size, then opened in fresh processes \
             (median of 3 processes; snapshot {} events before the end)\n",
            crate::run::growth::SNAPSHOT_TAIL_EVENTS
        );
        growth_table(&mut s, growth);
    }
    s
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}

/// Writes docs/benchmarks.md (keeping the hand-written analysis) and the growth plot.
pub fn write_docs(args: &Args, report: &str, growth: &[Point]) -> Result {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let kept = std::fs::read_to_string(docs.join("benchmarks.md"))
        .ok()
        .and_then(|old| old.find(ANALYSIS_MARKER).map(|i| old[i..].to_string()))
        .unwrap_or_else(|| format!("{ANALYSIS_MARKER}\n"));
    let command: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let plot = if growth.is_empty() {
        String::new()
    } else {
        crate::run::plot::growth_svg(growth, &docs.join("benchmarks-growth.svg"))?;
        "\n![growth curves](benchmarks-growth.svg)\n".to_string()
    };
    let quick = if args.quick { " (a quick run)" } else { "" };
    let page = format!(
        "# Benchmarks\n\n\
         Generated by `cargo bench --bench compare -- {}`{quick}; this part of the page is rewritten \
         by `--write-docs`. Machine: {}. These machines are noisy: compare the columns of one run, \
         not runs with each other.\n\n\
         Every store gets the same seeded commands through the API its user would call, and every \
         commit on every side waits for stable storage (counted with `strace -f -c`): the engine \
         calls `sync_file_range` (sled's flush), then `fdatasync` on its data file and on its \
         acknowledgement ledger; SQLite (bundled, WAL, `synchronous=FULL`) calls `fsync` on the WAL \
         per transaction; raw sled calls `sync_file_range` (its flush) and `fdatasync` on its file. \
         Each store is checked against the reference (every unread count and ack count; raw sled: \
         every event, by id) before its figures are printed. Each store runs in a process of its \
         own. What each column is and what it is spared: see \"How to read the tables\" below.\n\n\
         {report}{plot}\n",
        command.join(" "),
        machine(),
    );
    std::fs::write(docs.join("benchmarks.md"), page + "\n" + &kept)?;
    eprintln!("wrote docs/benchmarks.md");
    Ok(())
}
