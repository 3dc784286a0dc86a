//! The kill -9 harness shared by the crash tests of the log and of the Engine.
//!
//! A child process appends and prints one line per acknowledged event (`ack POSITION ID
//! DIGEST`, written only after the append returned). The parent kills it with SIGKILL at a
//! random moment, requires that it died of that signal (a child that stopped by itself, for
//! whatever reason, fails the cycle), then checks every acknowledged event by position, id and
//! content digest against what the reopened store holds.

use receipt_domain::Event;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// SIGKILL's number on Linux.
const SIGKILL: i32 = 9;

/// A stable digest of an event's whole content (its `Debug` form covers every field).
pub fn digest(event: &Event) -> u32 {
    crc32fast::hash(format!("{event:?}").as_bytes())
}

/// The line a child prints once the event at `position` is acknowledged.
pub fn ack_line(position: u64, event: &Event) -> String {
    format!("ack {position} {} {:08x}", event.id, digest(event))
}

/// What a child acknowledged: position -> (event id, content digest).
pub type Acked = BTreeMap<u64, (String, u32)>;

fn parse(line: &str) -> Option<(u64, String, u32)> {
    let mut parts = line.strip_prefix("ack ")?.split(' ');
    let position = parts.next()?.parse().ok()?;
    let id = parts.next()?.to_string();
    let digest = u32::from_str_radix(parts.next()?, 16).ok()?;
    parts.next().is_none().then_some((position, id, digest))
}

/// Runs `child`, waits for its first acknowledgement, lets it run `run_for` more, kills it
/// with SIGKILL and returns what it acknowledged. Fails if the child never acknowledged, exited
/// by itself, or printed a line that is not an acknowledgement (other than a last line cut by
/// the kill).
pub fn run_and_kill(mut child: Command, run_for: Duration) -> Result<Acked, String> {
    let mut process = child
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn the crash child: {e}"))?;
    let stdout = process.stdout.take().ok_or("no stdout")?;
    let (first_tx, first_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines: Vec<String> = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.is_empty() {
                let _ = first_tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    let started = first_rx.recv_timeout(Duration::from_secs(60));
    if started.is_ok() {
        std::thread::sleep(run_for);
    }
    // Kill even if it never started, so nothing is left running; then look at how it ended.
    let _ = process.kill();
    let output = process
        .wait_with_output()
        .map_err(|e| format!("wait for the crash child: {e}"))?;
    let lines = reader.join().map_err(|_| "stdout reader panicked")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.signal() != Some(SIGKILL) {
        return Err(format!(
            "the child was not killed by SIGKILL but ended with {}: {stderr}",
            output.status
        ));
    }
    if started.is_err() {
        return Err(format!("the child never acknowledged anything: {stderr}"));
    }
    let mut acked = Acked::new();
    for (i, line) in lines.iter().enumerate() {
        match parse(line) {
            Some((position, id, digest)) => {
                if acked.insert(position, (id, digest)).is_some() {
                    return Err(format!("position {position} acknowledged twice"));
                }
            }
            // The kill can cut the last line short; that event is simply not counted.
            None if i + 1 == lines.len() => {}
            None => return Err(format!("not an acknowledgement: {line:?}")),
        }
    }
    Ok(acked)
}

/// Checks that every acknowledged event is stored at its position with the same id and
/// content. `stored` returns the event at a position, if any.
pub fn check_acked(
    acked: &Acked,
    mut stored: impl FnMut(u64) -> Option<Event>,
) -> Result<(), String> {
    for (&position, (id, want)) in acked {
        let Some(event) = stored(position) else {
            return Err(format!("acknowledged event {id} at {position} is lost"));
        };
        if &event.id.to_string() != id || digest(&event) != *want {
            return Err(format!(
                "position {position} holds {} (digest {:08x}), acknowledged {id} ({want:08x})",
                event.id,
                digest(&event)
            ));
        }
    }
    Ok(())
}
