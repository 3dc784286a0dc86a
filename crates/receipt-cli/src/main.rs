//! `receipts`: run the demo workload into a store, inspect what the engine knows, rebuild the
//! projections, verify every stored record, export events as JSON lines.

mod demo;
mod exec;
mod inspect;
mod maintenance;
mod nats;
mod output;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "receipts",
    version,
    about = "Message receipt engine: demo, inspect, exec, export, verify, rebuild, salvage",
    after_help = "Exit codes: 0 done; 1 the store or the operation failed (damaged, in use, I/O); \
2 the command line was wrong (unknown flag, malformed uuid or id); 3 not found (no store, \
unknown user, message or conversation).\n\nA store is owned by one process: to look into a \
store a running service owns, ask that service, or copy the store's directory and open the copy."
)]
struct Cli {
    /// The store directory (created by `demo`; every other command needs an existing store).
    #[arg(long, global = true, default_value = "./receipts-data")]
    db: PathBuf,
    /// Print JSON instead of a table (`inspect`; `exec` and `export` always print JSON, and
    /// the other commands refuse it rather than ignore it).
    #[arg(long, global = true)]
    json: bool,
    /// A receipt log on NATS JetStream instead of `--db` (e.g. `nats://127.0.0.1:4222`,
    /// several servers of a cluster separated by commas): `demo`, `inspect`, `exec`, `verify`
    /// and `export` run there.
    #[arg(long, global = true)]
    nats: Option<String>,
    /// The JetStream log's prefix (its streams and buckets).
    #[arg(long, global = true, default_value = "receipts")]
    nats_prefix: String,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DurabilityArg {
    /// Flush before every append returns.
    Every,
    /// Concurrent appends share one flush.
    Group,
    /// sled flushes in the background every 500 ms (a final flush at the end).
    Buffered,
}

impl From<DurabilityArg> for receipt_engine::Durability {
    fn from(d: DurabilityArg) -> Self {
        match d {
            DurabilityArg::Every => Self::EveryAppend,
            DurabilityArg::Group => Self::GroupCommit,
            DurabilityArg::Buffered => Self::Buffered,
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a seeded, realistic chat workload into the store and print a report.
    Demo {
        /// Commands after the setup joins.
        #[arg(long, default_value_t = 200_000)]
        commands: u64,
        /// Seed of the workload generator: the same seed gives the same commands.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// When appends reach the disk (see docs/storage.md).
        #[arg(long, value_enum, default_value_t = DurabilityArg::Buffered)]
        durability: DurabilityArg,
        /// Delete the store first if it already holds events.
        #[arg(long)]
        reset: bool,
    },
    /// Show what the engine knows, as a table (or JSON with --json).
    Inspect {
        #[command(subcommand)]
        what: inspect::What,
    },
    /// Rebuild every checkpoint (partitions, summaries, headers) from the log, trusting none.
    Rebuild,
    /// Check every stored record against the acknowledgement ledger and every index, on a copy
    /// of the store (it changes no byte of it). Exit 1 names the first damage found.
    Verify,
    /// Copy every readable event of a damaged store (--db) into a new store, and list exactly
    /// which positions could not be copied. The damaged store is left as it is. With --nats:
    /// every good record into a new log under --into-prefix, listing each message left behind
    /// by partition and stream sequence.
    Salvage {
        /// Where to write the new store (must not exist, or be empty).
        #[arg(
            long,
            required_unless_present = "into_prefix",
            conflicts_with = "into_prefix"
        )]
        into: Option<PathBuf>,
        /// With --nats: the prefix of the new log (it must not hold any message).
        #[arg(long)]
        into_prefix: Option<String>,
    },
    /// Run commands given as JSON lines on standard input (a `CommandKind`, e.g.
    /// `{"CreateGroup":{"group":"team","owner":"ann","members":["bob"]}}`, or a whole `Command`
    /// with `id`, `at_ms` and `kind`), printing one JSON answer per line. Exit 1 if any was
    /// refused (each refusal is on its line), 2 at the first line that is not a command.
    /// Creates the store if it does not exist.
    Exec {
        /// A JSON file of the policy's fields (docs/engine.md); default: the seed's defaults.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// With the seed's defaults, but every receipt switched on.
        #[arg(long, conflicts_with = "policy")]
        receipts_on: bool,
    },
    /// Print events as JSON lines (with --nats: every partition's, with partition, sequence and
    /// version).
    Export {
        /// First position to export.
        #[arg(long, default_value_t = 0)]
        from: u64,
    },
}

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn run(cli: Cli) -> Result {
    let prints_json = matches!(
        cli.command,
        Cmd::Inspect { .. } | Cmd::Exec { .. } | Cmd::Export { .. }
    );
    if cli.json && !prints_json {
        return Err(output::Usage(
            "--json is for inspect (exec and export always print JSON); this command prints a report".into(),
        )
        .into());
    }
    if let Some(url) = &cli.nats {
        let prefix = &cli.nats_prefix;
        return match cli.command {
            Cmd::Verify => nats::verify(url, prefix),
            Cmd::Export { from: 0 } => nats::export(url, prefix),
            Cmd::Export { .. } => Err(output::Usage(
                "--from is a position of the sled log; a JetStream export is every partition".into(),
            )
            .into()),
            Cmd::Demo {
                commands,
                seed,
                durability: DurabilityArg::Buffered,
                reset: false,
            } => demo::run_nats(url, prefix, commands, seed),
            Cmd::Demo { .. } => Err(output::Usage(
                "--durability and --reset are for the sled store: JetStream acknowledges an append once it is stored (docs/scale-out.md), and this tool never deletes a JetStream log (choose another --nats-prefix)".into(),
            )
            .into()),
            Cmd::Inspect { what } => inspect::run_nats(url, prefix, cli.json, what),
            Cmd::Exec {
                policy,
                receipts_on,
            } => exec::run_nats(url, prefix, exec::policy(policy.as_deref(), receipts_on)?),
            Cmd::Salvage {
                into_prefix: Some(into),
                ..
            } => nats::salvage(url, prefix, &into),
            Cmd::Salvage { .. } => Err(output::Usage(
                "with --nats, salvage copies into a new log: give it --into-prefix NEW".into(),
            )
            .into()),
            Cmd::Rebuild => Err(output::Usage(
                "rebuild is for the sled store: on JetStream the engine rebuilds its replica from the log at every opening".into(),
            )
            .into()),
        };
    }
    let db = &cli.db;
    match cli.command {
        Cmd::Demo {
            commands,
            seed,
            durability,
            reset,
        } => demo::run(db, commands, seed, durability.into(), reset),
        Cmd::Inspect { what } => inspect::run(db, cli.json, what),
        Cmd::Rebuild => maintenance::rebuild(db),
        Cmd::Verify => maintenance::verify(db),
        Cmd::Salvage {
            into: Some(into), ..
        } => maintenance::salvage(db, &into),
        Cmd::Salvage { .. } => Err(output::Usage(
            "--into-prefix is for a JetStream log (--nats); a sled store is salvaged --into a directory".into(),
        )
        .into()),
        Cmd::Export { from } => maintenance::export(db, from),
        Cmd::Exec {
            policy,
            receipts_on,
        } => exec::run(db, exec::policy(policy.as_deref(), receipts_on)?),
    }
}

/// sled's own `debug` lines ("segment ... had computed crc ..., but stored crc ...") read like
/// damage and drown the engine's: sled is shown at `info` unless `RUST_LOG` names it.
fn sled_quiet(filter: tracing_subscriber::EnvFilter) -> tracing_subscriber::EnvFilter {
    let names_sled = std::env::var("RUST_LOG").is_ok_and(|v| v.contains("sled"));
    if names_sled {
        return filter;
    }
    match "sled=info".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    }
}

fn main() -> ExitCode {
    // Rust starts programs with SIGPIPE ignored, so once a reader closes the pipe
    // (`receipts export | head`) every print panics with a backtrace. Restore the default
    // action: the process ends quietly on a closed pipe, as `cat` and `grep` do. Every command
    // prints after its work is durable, and a store is crash-safe anyway.
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; it only changes what the
    // kernel does with SIGPIPE for this process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(sled_quiet(tracing_subscriber::EnvFilter::from_default_env()))
            .with_writer(std::io::stderr)
            // Colours only on a terminal: a log file or a pipe gets plain text.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = output::exit_code(e.as_ref());
            eprintln!("error: {e}");
            // The chain of causes, so nothing the library kept is lost on the way out.
            let mut cause = e.source();
            while let Some(c) = cause {
                eprintln!("  caused by: {c}");
                cause = c.source();
            }
            ExitCode::from(code)
        }
    }
}

/// Refuses a directory that holds no store, instead of creating an empty one by accident.
pub fn existing_store(db: &std::path::Path) -> Result<()> {
    if !db.join("conf").exists() {
        return Err(output::NotFound(format!(
            "no receipt store at {} (run `receipts demo --db {}` first)",
            db.display(),
            db.display()
        ))
        .into());
    }
    Ok(())
}
