//! The comparison runner: one seeded workload through this engine, the strong SQLite baseline,
//! the naive SQLite baseline and raw sled; each variant runs in its own child process (so its
//! peak memory is its own). Prints a table with every figure's ratio to the engine and, with
//! `--write-docs`, writes docs/benchmarks.md and docs/benchmarks.svg.
//!
//! `cargo bench --bench compare -- --quick` (seconds), `-- --events 1000000`, `-- --events 10000000`.

use receipt_bench::*;
use receipt_domain::*;
use receipt_store::{AppendRequest, Durability, SledLog};
use receipt_workload::WorkloadConfig;
use serde::{Deserialize, Serialize};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Counts live heap bytes, to measure memory per message, per ack and per read state.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers every call to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: `p` was allocated by `alloc` above with layout `l`.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Ordering::Relaxed);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: `p` was allocated by this allocator with layout `l`.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Row {
    variant: String,
    events: u64,
    /// Durable commits of ~1000 events.
    batch_events_per_s: f64,
    /// Durable single-decision commits, one thread.
    single_p50_us: f64,
    single_p99_us: f64,
    /// Durable single-decision commits from 16 threads (group commit for the engine).
    concurrent_events_per_s: Option<f64>,
    /// Cold open until queries answer (counters persist in SQLite, so that is instant there).
    reopen_s: f64,
    /// Rebuild of the projections from the event log: replay + fold.
    rebuild_events_per_s: f64,
    /// The engine's cold open from a snapshot plus tail.
    snapshot_reopen_s: Option<f64>,
    unread_p50_ns: f64,
    unread_p99_ns: f64,
    disk_bytes_per_event: f64,
    peak_rss_mb: f64,
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples
        .get(((samples.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Groups decisions into commits of about `events` events.
fn batches(decisions: &[Vec<Event>], events: usize) -> Vec<&[Vec<Event>]> {
    let mut out = Vec::new();
    let (mut start, mut n) = (0, 0);
    for (i, d) in decisions.iter().enumerate() {
        n += d.len();
        if n >= events {
            out.push(&decisions[start..=i]);
            start = i + 1;
            n = 0;
        }
    }
    if start < decisions.len() {
        out.push(&decisions[start..]);
    }
    out
}

/// The decisions split over `threads` by stream, so each stream keeps its order.
fn by_stream(decisions: &[Vec<Event>], threads: usize) -> Vec<Vec<Vec<Event>>> {
    let mut parts = vec![Vec::new(); threads];
    let mut owner: HashMap<ConversationId, usize> = HashMap::new();
    for d in decisions {
        let c = d[0].body.conversation();
        let next = owner.len() % threads;
        let t = *owner.entry(c).or_insert(next);
        parts[t].push(d.clone());
    }
    parts
}

const THREADS: usize = 16;

fn concurrent_engine(dir: &Path, decisions: &[Vec<Event>]) -> Result<f64> {
    let log = Arc::new(SledLog::open_dir(dir, Durability::GroupCommit)?);
    let parts = by_stream(decisions, THREADS);
    let start = Instant::now();
    let handles: Vec<_> = parts
        .into_iter()
        .map(|part| {
            let log = log.clone();
            std::thread::spawn(move || -> Result {
                for events in part {
                    let conversation = events[0].body.conversation();
                    let expected_version = log.version(&conversation)?;
                    log.append(AppendRequest {
                        conversation,
                        expected_version,
                        events,
                    })?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "thread panicked")??;
    }
    Ok(decisions.iter().map(Vec::len).sum::<usize>() as f64 / start.elapsed().as_secs_f64())
}

fn concurrent_sqlite(path: &Path, decisions: &[Vec<Event>]) -> Result<f64> {
    drop(open_connection(path, true)?); // schema first, once
    let parts = by_stream(decisions, THREADS);
    let start = Instant::now();
    let handles: Vec<_> = parts
        .into_iter()
        .map(|part| {
            let path = path.to_path_buf();
            std::thread::spawn(move || -> Result {
                let mut conn = open_connection(&path, true)?;
                for d in part {
                    commit_on(&mut conn, true, std::slice::from_ref(&d))?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "thread panicked")??;
    }
    Ok(decisions.iter().map(Vec::len).sum::<usize>() as f64 / start.elapsed().as_secs_f64())
}

/// Runs one variant (in a child process) and returns its row.
fn measure(name: &str, config: &WorkloadConfig) -> Result<Row> {
    let (decisions, state) = decided(config);
    let dir = tempfile::tempdir()?;
    let mut variant: Box<dyn Variant> = match name {
        "engine" => Box::new(EngineVariant::open(
            dir.path().join("db"),
            Durability::EveryAppend,
        )?),
        "sqlite" => Box::new(SqliteVariant::open(dir.path().join("db.sqlite"), true)?),
        "naive" => Box::new(SqliteVariant::open(dir.path().join("db.sqlite"), false)?),
        "rawsled" => Box::new(RawSledVariant::open(dir.path().join("db"))?),
        other => return Err(format!("unknown variant {other}").into()),
    };
    // COUNT(*) answers are checked on an even sample; every other variant on every pair.
    let max_pairs = if name == "naive" { 20_000 } else { usize::MAX };
    let events: u64 = decisions.iter().map(|d| d.len() as u64).sum();
    let singles = (decisions.len() / 10).min(2_000);
    let (bulk, tail) = decisions.split_at(decisions.len() - singles);

    let start = Instant::now();
    for b in batches(bulk, 1000) {
        variant.commit(b)?;
    }
    let bulk_events: usize = bulk.iter().map(Vec::len).sum();
    let batch_events_per_s = bulk_events as f64 / start.elapsed().as_secs_f64();

    let mut latencies: Vec<f64> = Vec::with_capacity(singles);
    for d in tail {
        let t = Instant::now();
        variant.commit(std::slice::from_ref(d))?;
        latencies.push(t.elapsed().as_secs_f64() * 1e6);
    }
    check_projections_sampled(variant.as_ref(), &state, &decisions, max_pairs)?;

    let t = Instant::now();
    variant.reopen()?;
    let reopen_s = t.elapsed().as_secs_f64();
    check_projections_sampled(variant.as_ref(), &state, &decisions, max_pairs)?;

    let (rebuild_events_per_s, snapshot_reopen_s) = match name {
        "engine" => {
            // reopen_s was a full replay (no snapshot); now with a snapshot plus empty tail.
            let mut engine = EngineVariant::open(dir.path().join("db2"), Durability::Buffered)?;
            drop(variant);
            for b in batches(&decisions, 1000) {
                engine.commit(b)?;
            }
            engine.snapshot_on_reopen = true;
            engine.reopen()?; // writes the snapshot
            let t = Instant::now();
            engine.reopen()?;
            let snap = t.elapsed().as_secs_f64();
            check_projections(&engine, &state, &decisions)?;
            variant = Box::new(engine);
            (events as f64 / reopen_s, Some(snap))
        }
        "sqlite" | "naive" => {
            let sqlite = SqliteVariant::open(dir.path().join("db.sqlite"), name == "sqlite")?;
            let t = Instant::now();
            let mut folded = State::new();
            sqlite.scan_events(|e| folded.apply(&e))?;
            let rate = events as f64 / t.elapsed().as_secs_f64();
            if folded != state {
                return Err("SQLite scan + fold differs from the engine's state".into());
            }
            (rate, None)
        }
        _ => (events as f64 / reopen_s, None),
    };

    let (pairs, _) = query_sample(&state, &decisions);
    // COUNT(*) is slow enough that a smaller sample says the same.
    let sample = if name == "naive" { 2_000 } else { 20_000 };
    let mut q: Vec<f64> = Vec::with_capacity(pairs.len().min(sample));
    for (u, c) in pairs.iter().take(sample) {
        let t = Instant::now();
        std::hint::black_box(variant.unread(u, c)?);
        q.push(t.elapsed().as_nanos() as f64);
    }

    let concurrent_n = decisions.len().min(if config.commands > 100_000 {
        20_000
    } else {
        4_000
    });
    let concurrent_events_per_s = match name {
        "engine" => Some(concurrent_engine(
            &dir.path().join("conc"),
            &decisions[..concurrent_n],
        )?),
        "sqlite" => Some(concurrent_sqlite(
            &dir.path().join("conc.sqlite"),
            &decisions[..concurrent_n],
        )?),
        _ => None,
    };
    Ok(Row {
        variant: variant.name().to_string(),
        events,
        batch_events_per_s,
        single_p50_us: percentile(&mut latencies.clone(), 0.5),
        single_p99_us: percentile(&mut latencies, 0.99),
        concurrent_events_per_s,
        reopen_s,
        rebuild_events_per_s,
        snapshot_reopen_s,
        unread_p50_ns: percentile(&mut q.clone(), 0.5),
        unread_p99_ns: percentile(&mut q, 0.99),
        disk_bytes_per_event: variant.disk_bytes() as f64 / events as f64,
        peak_rss_mb: peak_rss_mb(),
    })
}

/// In-process figures of the engine's core: fold rate, fold cost by group size, query
/// latencies, memory per item.
#[derive(Debug, Default)]
struct Core {
    fold_events_per_s: f64,
    fold_messages: usize,
    fold_3000_vs_direct: f64,
    unread_p99_ns: f64,
    badge_p99_ns: f64,
    ack_count_p99_ns: f64,
    reader_page_p99_ns: f64,
    bytes_per_message: f64,
    bytes_per_group_ack: f64,
    bytes_per_read_state: f64,
}

fn uid(s: String) -> UserId {
    UserId::new(s).expect("valid")
}

fn ev(n: u64, at_ms: u64, body: EventBody) -> Event {
    Event {
        id: EventId(uuid::Uuid::from_u64_pair(7, n)),
        at_ms,
        body,
    }
}

fn sent(n: u64, conversation: &ConversationId, sender: &UserId, acks: bool) -> Event {
    let group_ack = if acks {
        GroupAck::Enabled
    } else {
        GroupAck::NotRequested
    };
    ev(
        n,
        n,
        EventBody::MessageSent {
            conversation: conversation.clone(),
            message: MessageId(uuid::Uuid::from_u64_pair(9, n)),
            sender: sender.clone(),
            group_ack,
        },
    )
}

fn core(decisions: &[Vec<Event>], state: &State) -> Core {
    let mut c = Core::default();
    let events: Vec<&Event> = decisions.iter().flatten().collect();
    let t = Instant::now();
    let folded = State::from_events(events.iter().copied());
    c.fold_events_per_s = events.len() as f64 / t.elapsed().as_secs_f64();
    c.fold_messages = folded.message_count();

    // Fold cost of a message to a 3000-member group vs a direct message.
    let big = GroupId::new("big").expect("valid");
    let gc = ConversationId::Group(big.clone());
    let mut s = State::new();
    for i in 0..3000u64 {
        s.apply(&ev(
            1_000_000 + i,
            0,
            EventBody::MemberJoined {
                group: big.clone(),
                user: uid(format!("m{i}")),
                role: Role::Member,
            },
        ));
    }
    let (a, b) = (uid("m0".into()), uid("m1".into()));
    let dc = ConversationId::direct(a.clone(), b).expect("distinct");
    let n = 200_000u64;
    let group_events: Vec<Event> = (0..n).map(|i| sent(i, &gc, &a, false)).collect();
    let direct_events: Vec<Event> = (0..n).map(|i| sent(n + i, &dc, &a, false)).collect();
    let t = Instant::now();
    for e in &group_events {
        s.apply(e);
    }
    let group_ns = t.elapsed().as_nanos() as f64;
    let t = Instant::now();
    for e in &direct_events {
        s.apply(e);
    }
    c.fold_3000_vs_direct = group_ns / t.elapsed().as_nanos() as f64;

    // Query latencies on the workload's state.
    let policy = Policy::all_receipts_on();
    let (pairs, messages) = query_sample(state, decisions);
    let time = |f: &mut dyn FnMut(usize)| {
        let mut v: Vec<f64> = (0..20_000)
            .map(|i| {
                let t = Instant::now();
                f(i);
                t.elapsed().as_nanos() as f64
            })
            .collect();
        percentile(&mut v, 0.99)
    };
    c.unread_p99_ns = time(&mut |i| {
        let (u, cv) = &pairs[i % pairs.len()];
        std::hint::black_box(state.unread_count(u, cv));
    });
    c.badge_p99_ns = time(&mut |i| {
        std::hint::black_box(state.total_unread(&pairs[i % pairs.len()].0));
    });
    let senders: Vec<(MessageId, UserId)> = messages
        .iter()
        .filter_map(|m| Some((*m, state.message_sender(m)?)))
        .collect();
    c.ack_count_p99_ns = time(&mut |i| {
        let (m, u) = &senders[i % senders.len()];
        let _ = std::hint::black_box(state.group_ack_count(&policy, u, m));
    });
    c.reader_page_p99_ns = time(&mut |i| {
        let (m, u) = &senders[i % senders.len()];
        let _ = std::hint::black_box(state.fetch_group_acks(&policy, u, m, None, 20));
    });

    // Memory, measured by the counting allocator.
    let users: Vec<UserId> = (0..10_000).map(|i| uid(format!("r{i}"))).collect();
    let ga = GroupId::new("a").expect("valid");
    let gb = GroupId::new("b").expect("valid");
    let mut s = State::new();
    for (i, u) in users.iter().enumerate() {
        s.apply(&ev(
            i as u64,
            0,
            EventBody::MemberJoined {
                group: ga.clone(),
                user: u.clone(),
                role: Role::Member,
            },
        ));
    }
    let direct = ConversationId::direct(users[0].clone(), users[1].clone()).expect("distinct");
    let msgs: Vec<Event> = (0..100_000u64)
        .map(|i| sent(100_000 + i, &direct, &users[0], false))
        .collect();
    let before = LIVE.load(Ordering::SeqCst);
    for e in &msgs {
        s.apply(e);
    }
    c.bytes_per_message = (LIVE.load(Ordering::SeqCst) - before) as f64 / msgs.len() as f64;
    let joins: Vec<Event> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            ev(
                300_000 + i as u64,
                0,
                EventBody::MemberJoined {
                    group: gb.clone(),
                    user: u.clone(),
                    role: Role::Member,
                },
            )
        })
        .collect();
    let before = LIVE.load(Ordering::SeqCst);
    for e in &joins {
        s.apply(e);
    }
    c.bytes_per_read_state = (LIVE.load(Ordering::SeqCst) - before) as f64 / joins.len() as f64;
    // Group acks: 200 members, 500 messages with acks, every other member acks each.
    let gbc = ConversationId::Group(gb.clone());
    let ack_msgs: Vec<Event> = (0..500u64)
        .map(|i| sent(400_000 + i, &gbc, &users[0], true))
        .collect();
    for e in &ack_msgs {
        s.apply(e);
    }
    let acks: Vec<Event> = ack_msgs
        .iter()
        .enumerate()
        .flat_map(|(i, m)| {
            let EventBody::MessageSent { message, .. } = &m.body else {
                unreachable!("built as MessageSent above")
            };
            let message = *message;
            let gb = gb.clone();
            users[1..200].iter().enumerate().map(move |(j, u)| {
                ev(
                    1_000_000 + (i * 200 + j) as u64,
                    5,
                    EventBody::GroupReadAcked {
                        group: gb.clone(),
                        message,
                        reader: u.clone(),
                    },
                )
            })
        })
        .collect();
    let before = LIVE.load(Ordering::SeqCst);
    for e in &acks {
        s.apply(e);
    }
    c.bytes_per_group_ack = (LIVE.load(Ordering::SeqCst) - before) as f64 / acks.len() as f64;
    c
}

fn run_child(variant: &str, args: &[String]) -> Result<Row> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(args)
        .arg("--variant")
        .arg(variant)
        .output()?;
    if !out.status.success() {
        return Err(format!("{variant} failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let json = line
        .lines()
        .rfind(|l| l.starts_with('{'))
        .ok_or("no result line")?;
    Ok(serde_json::from_str(json)?)
}

fn ratio(x: f64, engine: f64, higher_is_better: bool) -> String {
    if x == 0.0 || engine == 0.0 {
        return "-".into();
    }
    let r = if higher_is_better {
        engine / x
    } else {
        x / engine
    };
    format!("{r:.2}x")
}

fn main() -> Result {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let quick = args.iter().any(|a| a == "--quick");
    let commands: u64 = args
        .iter()
        .position(|a| a == "--events")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(if quick { 30_000 } else { 1_000_000 });
    let config = WorkloadConfig::sized(commands, 42);
    if let Some(i) = args.iter().position(|a| a == "--variant") {
        let row = measure(args.get(i + 1).ok_or("--variant needs a name")?, &config)?;
        println!("{}", serde_json::to_string(&row)?);
        return Ok(());
    }
    let passthrough: Vec<String> = args
        .iter()
        .filter(|a| *a != "--write-docs")
        .cloned()
        .collect();
    eprintln!("deciding the workload ({commands} commands, seed 42)...");
    let (decisions, state) = decided(&config);
    let events: u64 = decisions.iter().map(|d| d.len() as u64).sum();
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').map(String::from).collect());
    let mut rows = Vec::new();
    for v in ["engine", "sqlite", "naive", "rawsled"] {
        if only.as_ref().is_some_and(|o| !o.iter().any(|x| x == v)) {
            rows.push(Row {
                variant: format!("{v} (not run)"),
                ..Row::default()
            });
            continue;
        }
        eprintln!("running {v}...");
        rows.push(run_child(v, &passthrough)?);
    }
    eprintln!("measuring the core in process...");
    let core = core(&decisions, &state);
    let report = render(&rows, &core, commands, events);
    println!("{report}");
    if args.iter().any(|a| a == "--write-docs") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        // The hand-written analysis after the marker survives regeneration.
        let kept = std::fs::read_to_string(docs.join("benchmarks.md"))
            .ok()
            .and_then(|old| old.find(ANALYSIS_MARKER).map(|i| old[i..].to_string()))
            .unwrap_or_else(|| format!("{ANALYSIS_MARKER}\n"));
        std::fs::write(
            docs.join("benchmarks.md"),
            docs_page(&report, commands, &args) + "\n" + &kept,
        )?;
        std::fs::write(docs.join("benchmarks.svg"), svg(&rows))?;
        eprintln!("wrote docs/benchmarks.md and docs/benchmarks.svg");
    }
    Ok(())
}

fn render(rows: &[Row], c: &Core, commands: u64, events: u64) -> String {
    let e = &rows[0];
    let mut s = String::new();
    let line =
        |s: &mut String, cells: Vec<String>| s.push_str(&format!("| {} |\n", cells.join(" | ")));
    s.push_str(&format!("Workload: seed 42, {commands} commands -> {events} events (ratios: engine vs the row; > 1 means the engine is better)\n\n"));
    line(
        &mut s,
        [
            "measure",
            "engine (sled)",
            "sqlite + counters",
            "sqlite COUNT(*)",
            "raw sled",
        ]
        .map(String::from)
        .to_vec(),
    );
    line(&mut s, vec!["---".into(); 5]);
    let mut metric = |name: &str, f: &dyn Fn(&Row) -> Option<f64>, unit: &str, higher: bool| {
        let base = f(e).unwrap_or(0.0);
        let mut cells = vec![name.to_string()];
        for (i, r) in rows.iter().enumerate() {
            cells.push(match f(r) {
                None => "-".into(),
                Some(v) if i == 0 => format!("{v:.1} {unit}"),
                Some(v) => format!("{v:.1} {unit} ({})", ratio(v, base, higher)),
            });
        }
        line(&mut s, cells);
    };
    metric(
        "durable append, ~1000 events/commit",
        &|r| Some(r.batch_events_per_s / 1000.0),
        "k ev/s",
        true,
    );
    metric(
        "durable single-command commit p50",
        &|r| Some(r.single_p50_us),
        "µs",
        false,
    );
    metric(
        "durable single-command commit p99",
        &|r| Some(r.single_p99_us),
        "µs",
        false,
    );
    metric(
        "durable single commands, 16 threads",
        &|r| r.concurrent_events_per_s.map(|v| v / 1000.0),
        "k ev/s",
        true,
    );
    metric(
        "cold open until queries answer",
        &|r| Some(r.reopen_s * 1000.0),
        "ms",
        false,
    );
    metric(
        "rebuild from the log (replay + fold)",
        &|r| Some(r.rebuild_events_per_s / 1e6),
        "M ev/s",
        true,
    );
    metric(
        "cold open from snapshot",
        &|r| r.snapshot_reopen_s.map(|v| v * 1000.0),
        "ms",
        false,
    );
    metric("unread query p50", &|r| Some(r.unread_p50_ns), "ns", false);
    metric("unread query p99", &|r| Some(r.unread_p99_ns), "ns", false);
    metric(
        "disk per event",
        &|r| Some(r.disk_bytes_per_event),
        "B",
        false,
    );
    metric(
        "peak memory (process)",
        &|r| Some(r.peak_rss_mb),
        "MB",
        false,
    );
    s.push_str(&format!(
        "\nEngine core, in process: fold {:.2} M events/s over {} messages; fold of a 3000-member group message vs a direct one: {:.2}x;\n\
         p99 unread {:.0} ns, badge {:.0} ns, ack count {:.0} ns, reader page (20) {:.0} ns;\n\
         memory {:.1} B/message, {:.1} B/group ack, {:.1} B/(user, conversation) read state.\n",
        c.fold_events_per_s / 1e6, c.fold_messages, c.fold_3000_vs_direct, c.unread_p99_ns, c.badge_p99_ns, c.ack_count_p99_ns, c.reader_page_p99_ns,
        c.bytes_per_message, c.bytes_per_group_ack, c.bytes_per_read_state
    ));
    s
}

/// Everything after this line in docs/benchmarks.md is written by hand and kept.
const ANALYSIS_MARKER: &str =
    "<!-- analysis: written by hand, kept when the tables above are regenerated -->";

fn docs_page(report: &str, commands: u64, args: &[String]) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let shown: Vec<&String> = args.iter().collect();
    format!(
        "# Benchmarks\n\n\
         Generated by `cargo bench --bench compare -- {}` (this page is rewritten by `--write-docs`).\n\
         Machine: {cpu}, {cores} cores. These machines are noisy: compare the columns of one run, not\n\
         runs with each other. Every variant is checked to give the engine's projections (every\n\
         unread count and ack count) before any figure is printed.\n\n\
         Variants: this engine (sled event log, flush per commit, projections folded in memory); the\n\
         strong SQLite baseline (bundled SQLite, WAL, `synchronous=FULL`, events plus counter tables\n\
         updated in the same transaction); the naive SQLite baseline (same facts, unread by `COUNT(*)`);\n\
         raw sled with one key per event (the floor). Workload: `receipt-workload`, {commands} commands.\n\n\
         {report}\n![chart](benchmarks.svg)\n\n\
         The targets, what was met, what was missed and why: see the analysis below.\n",
        shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    )
}

/// A labelled figure of a row.
type Metric = (&'static str, fn(&Row) -> f64);

/// A bar chart of throughput (log scale) per variant, hand-drawn SVG.
fn svg(rows: &[Row]) -> String {
    let metrics: [Metric; 3] = [
        ("append ~1000/commit (ev/s)", |r| r.batch_events_per_s),
        ("rebuild (ev/s)", |r| r.rebuild_events_per_s),
        ("single commits, 16 threads (ev/s)", |r| {
            r.concurrent_events_per_s.unwrap_or(0.0)
        }),
    ];
    let colors = ["#2b6cb0", "#c05621", "#718096", "#2f855a"];
    let (w, h, left, bar, gap) = (760.0, 300.0, 230.0, 14.0, 22.0);
    let max = rows
        .iter()
        .flat_map(|r| metrics.iter().map(move |(_, f)| f(r)))
        .fold(1.0f64, f64::max)
        .log10();
    let mut s = format!("<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-family='sans-serif' font-size='12'>\n");
    let mut y = 20.0;
    for (label, f) in metrics {
        s.push_str(&format!("<text x='4' y='{}'>{label}</text>\n", y + 12.0));
        for (i, r) in rows.iter().enumerate() {
            let v = f(r);
            let len = if v > 1.0 {
                (v.log10() / max) * (w - left - 120.0)
            } else {
                0.0
            };
            s.push_str(&format!(
                "<rect x='{left}' y='{y}' width='{len:.1}' height='{bar}' fill='{}'/>\n",
                colors[i]
            ));
            s.push_str(&format!(
                "<text x='{:.1}' y='{:.1}'>{:.0}</text>\n",
                left + len + 4.0,
                y + 11.0,
                v
            ));
            y += bar + 2.0;
        }
        y += gap;
    }
    for (i, r) in rows.iter().enumerate() {
        s.push_str(&format!(
            "<rect x='{}' y='{}' width='10' height='10' fill='{}'/><text x='{}' y='{}'>{}</text>\n",
            4 + i * 185,
            h - 14.0,
            colors[i],
            18 + i * 185,
            h - 5.0,
            r.variant
        ));
    }
    s.push_str("</svg>\n");
    s
}
