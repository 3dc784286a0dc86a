//! `receipts exec`: commands as JSON lines on standard input, one answer per line on standard
//! output. Every kind of command the engine takes, batch and bulk ones included, is reachable
//! from a shell this way.

use crate::output::exit;
use crate::Result;
use receipt_engine::{Command, CommandKind, Engine, EngineError, EngineOptions, Policy};
use serde::Deserialize;
use std::io::{BufRead, Write};
use std::path::Path;

/// One input line: a bare command kind (the engine stamps a fresh id and its clock), or a
/// whole command with the caller's id and time (a retry with the same id is answered with the
/// original outcome).
#[derive(Deserialize)]
#[serde(untagged)]
enum Line {
    Command(Command),
    Kind(CommandKind),
}

/// Some commands were refused (each printed with its reason).
#[derive(Debug)]
pub struct Refused(pub usize);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} command(s) refused; see their lines", self.0)
    }
}

impl std::error::Error for Refused {}

/// A line that is not a command: nothing from it on was run.
#[derive(Debug)]
pub struct BadLine {
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {} is not a command ({}); it and the lines after it were not run",
            self.line, self.reason
        )
    }
}

impl std::error::Error for BadLine {}

/// The policy commands are decided with: a JSON file of `Policy`'s fields, else the seed's
/// defaults with every receipt switched on (`--receipts-on`) or off.
pub fn policy(file: Option<&Path>, receipts_on: bool) -> Result<Policy> {
    Ok(match file {
        Some(path) => serde_json::from_slice(&std::fs::read(path)?)
            .map_err(|e| format!("policy file {}: {e}", path.display()))?,
        None if receipts_on => Policy::all_receipts_on(),
        None => Policy::default(),
    })
}

pub fn run(db: &Path, policy: Policy) -> Result {
    let engine = Engine::open(db, EngineOptions::default().with_policy(policy))?;
    serve(&engine)
}

/// `receipts --nats URL exec`: the same, through the Engine on JetStream (owning every
/// partition while it runs; the log is created if missing).
pub fn run_nats(url: &str, prefix: &str, policy: Policy) -> Result {
    let engine = crate::nats::open_engine(url, prefix, policy, true)?;
    serve(&engine)
}

fn serve<B: receipt_engine::store::Backend>(engine: &Engine<B>) -> Result {
    let stdin = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();
    let mut refused = 0;
    for (i, text) in stdin.lines().enumerate() {
        let number = i + 1;
        let text = text?;
        if text.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(&text).map_err(|e| BadLine {
            line: number,
            reason: e.to_string(),
        })?;
        let answer = match line {
            Line::Command(c) => engine.execute_command(c),
            Line::Kind(k) => engine.execute(k),
        };
        let value = match answer {
            Ok(o) => serde_json::json!({
                "line": number,
                "events": o.events.len(),
                "first_position": o.first_position,
                "note": o.note.map(|n| n.to_string()),
                "repeated": o.repeated,
                "notifications": o.notifications.len(),
            }),
            Err(EngineError::Rejected(e)) => {
                refused += 1;
                serde_json::json!({ "line": number, "refused": e.kind(), "reason": e.to_string() })
            }
            Err(e) => return Err(e.into()),
        };
        writeln!(out, "{value}")?;
    }
    out.flush()?;
    if refused > 0 {
        return Err(Refused(refused).into());
    }
    Ok(())
}

/// The exit code of an `exec` error, if it is one of its own.
pub fn exit_code(e: &(dyn std::error::Error + 'static)) -> Option<u8> {
    if e.is::<BadLine>() {
        return Some(exit::USAGE);
    }
    if e.is::<Refused>() {
        return Some(exit::FAILED);
    }
    None
}
