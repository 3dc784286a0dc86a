//! `receipts exec`: commands as JSON lines on standard input, one answer per line on standard
//! output. Every kind of command the engine takes, batch and bulk ones included, is reachable
//! from a shell this way.

use crate::output::{exit, Usage};
use crate::Result;
use receipt_engine::{Command, CommandKind, Engine, EngineError, EngineOptions, Policy};
use std::io::{BufRead, Read, Write};
use std::path::Path;

/// The longest input line `exec` reads, in bytes (its newline excluded). A line is held whole
/// while it is parsed, so this bounds what one line can make the process allocate; 1 MiB holds
/// a bulk command naming over ten thousand users.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// One input line: a bare command kind (the engine stamps a fresh id and its clock), or a
/// whole command with the caller's id and time (a retry with the same id is answered with the
/// original outcome). Told apart by the object's keys, not by trying both shapes, so a refusal
/// names the field and the rule that refused it.
enum Line {
    Command(Command),
    Kind(CommandKind),
}

impl Line {
    fn parse(text: &str) -> std::result::Result<Self, BadReason> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| BadReason {
            field: None,
            reason: e.to_string(),
        })?;
        // `Command` is the only shape with a `kind` key; a `CommandKind` is an object with one
        // key, the kind's name (`{"SendMessage":{...}}`), and no kind is named `kind`.
        let whole = value.as_object().is_some_and(|o| o.contains_key("kind"));
        let located = |e: serde_path_to_error::Error<serde_json::Error>| BadReason {
            field: Some(e.path().to_string()).filter(|p| p != "."),
            reason: e.into_inner().to_string(),
        };
        Ok(if whole {
            Line::Command(serde_path_to_error::deserialize(value).map_err(located)?)
        } else {
            Line::Kind(serde_path_to_error::deserialize(value).map_err(located)?)
        })
    }
}

/// Why a line is not a command: the field that refused it (a JSON path such as
/// `CreateGroup.members[1]`) when one did, and the rule.
#[derive(Debug)]
pub struct BadReason {
    pub field: Option<String>,
    pub reason: String,
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
    pub why: BadReason,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {} is not a command (", self.line)?;
        if let Some(field) = &self.why.field {
            write!(f, "{field}: ")?;
        }
        write!(
            f,
            "{}); it and the lines after it were not run",
            self.why.reason
        )
    }
}

impl std::error::Error for BadLine {}

/// Reads one line into `buf` (without its newline), reading at most [`MAX_LINE_BYTES`] + 1
/// bytes of it: a longer line is refused before the rest of it is read. `Ok(false)` at the end
/// of the input.
fn read_line(mut input: impl BufRead, buf: &mut Vec<u8>, number: usize) -> Result<bool> {
    buf.clear();
    let limit = MAX_LINE_BYTES as u64 + 1;
    let read = Read::take(&mut input, limit).read_until(b'\n', buf)?;
    if read == 0 {
        return Ok(false);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > MAX_LINE_BYTES {
        return Err(BadLine {
            line: number,
            why: BadReason {
                field: None,
                reason: format!("the line is longer than {MAX_LINE_BYTES} bytes"),
            },
        }
        .into());
    }
    Ok(true)
}

/// The policy commands are decided with: a JSON file of `Policy`'s fields, else the seed's
/// defaults with every receipt switched on (`--receipts-on`) or off.
pub fn policy(file: Option<&Path>, receipts_on: bool) -> Result<Policy> {
    Ok(match file {
        Some(path) => {
            // A policy file that cannot be read or is not a policy is a wrong command line
            // (exit 2), named by its path.
            let bad =
                |e: &dyn std::fmt::Display| Usage(format!("policy file {}: {e}", path.display()));
            let bytes = std::fs::read(path).map_err(|e| bad(&e))?;
            let policy: Policy = serde_json::from_slice(&bytes).map_err(|e| bad(&e))?;
            policy.validate().map_err(|e| bad(&e))?;
            policy
        }
        None if receipts_on => Policy::all_receipts_on(),
        None => Policy::default(),
    })
}

pub fn run(db: &Path, policy: Policy) -> Result {
    let engine = Engine::open(db, EngineOptions::default().with_policy(policy))?;
    // An open checks the tail only; a store with damage in its history must not take writes
    // (docs/storage.md, "Damage at rest"), and exec is a tool, not a hot path.
    engine.check_history()?;
    serve(&engine)
}

/// `receipts --nats URL exec`: the same, through the Engine on JetStream (owning every
/// partition while it runs; the log is created if missing).
pub fn run_nats(url: &str, prefix: &str, policy: Policy) -> Result {
    let engine = crate::nats::open_engine(url, prefix, policy, true)?;
    serve(&engine)
}

fn serve<B: receipt_engine::store::Backend>(engine: &Engine<B>) -> Result {
    let mut stdin = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();
    let mut refused = 0;
    let mut buf = Vec::new();
    let mut number = 0;
    while read_line(&mut stdin, &mut buf, number + 1)? {
        number += 1;
        let text = std::str::from_utf8(&buf).map_err(|e| BadLine {
            line: number,
            why: BadReason {
                field: None,
                reason: format!("not UTF-8: {e}"),
            },
        })?;
        if text.trim().is_empty() {
            continue;
        }
        let line = Line::parse(text).map_err(|why| BadLine { line: number, why })?;
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

#[cfg(test)]
#[path = "exec_tests.rs"]
mod tests;
