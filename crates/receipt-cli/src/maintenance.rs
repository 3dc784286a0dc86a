//! `receipts rebuild | verify | export`.

use crate::Result;
use receipt_engine::store::{Durability, SledLog, StoredEvent};
use receipt_engine::*;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

fn open_log(db: &Path) -> Result<SledLog> {
    crate::existing_store(db)?;
    Ok(SledLog::open_dir(db, Durability::EveryAppend)?)
}

pub fn rebuild(db: &Path) -> Result {
    let log = open_log(db)?;
    let total = log.head();
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} events {per_sec} eta {eta}",
    )?);
    let start = Instant::now();
    let mut state = State::new();
    log.replay(0, |e| {
        state.apply(&e.event);
        if e.position % 65_536 == 0 {
            bar.set_position(e.position);
        }
    })?;
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    log.save_snapshot(total, &state)?;
    println!(
        "rebuilt {} events ({} messages) in {secs:.2} s: {:.0} events/s; snapshot stored at position {total}",
        total,
        state.message_count(),
        total as f64 / secs.max(1e-9)
    );
    Ok(())
}

pub fn verify(db: &Path) -> Result {
    let log = open_log(db)?;
    let head = log.head();
    let mut per_stream: HashMap<ConversationId, u64> = HashMap::new();
    let mut state = State::new();
    // The snapshot must equal the replay's state at the position it covers.
    let snapshot = log.load_snapshot();
    let mut snapshot_matches = None;
    let end = log.replay(0, |e| {
        if let Some((p, s)) = &snapshot {
            if *p == e.position {
                snapshot_matches = Some(s == &state);
            }
        }
        *per_stream.entry(e.event.body.conversation()).or_default() += 1;
        state.apply(&e.event);
    })?;
    if let Some((p, s)) = &snapshot {
        if *p == end {
            snapshot_matches = Some(s == &state);
        }
    }
    // The stream index must list exactly each stream's events, in order.
    for (conversation, count) in &per_stream {
        let version = log.version(conversation)?;
        let listed = log.read_stream(conversation, 1, usize::MAX)?;
        if version != *count
            || listed.len() as u64 != *count
            || listed.iter().zip(1..).any(|(e, v)| e.version != v)
        {
            return Err(format!("stream index of {conversation} disagrees with the log ({count} events, index says {version})").into());
        }
    }
    state.check_invariants()?;
    let snapshot = match (&snapshot, snapshot_matches) {
        (Some((p, _)), Some(true)) => format!("snapshot at {p} matches a replay"),
        (Some((p, _)), _) => {
            return Err(format!("snapshot at position {p} differs from a replay of the log").into())
        }
        (None, _) => "no usable snapshot".into(),
    };
    println!(
        "ok: {end} of {head} events readable, positions gapless, {} streams indexed, {snapshot}",
        per_stream.len()
    );
    Ok(())
}

#[derive(serde::Serialize)]
struct Line<'a> {
    position: u64,
    stream: String,
    kind: &'static str,
    event: &'a Event,
}

pub fn export(db: &Path, from: u64) -> Result {
    let log = open_log(db)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = None;
    log.replay(from, |StoredEvent { position, event }| {
        if failed.is_some() {
            return;
        }
        let line = Line {
            position,
            stream: event.body.conversation().to_string(),
            kind: event.body.kind_name(),
            event: &event,
        };
        if let Err(e) = serde_json::to_writer(&mut out, &line)
            .map_err(std::io::Error::from)
            .and_then(|_| out.write_all(b"\n"))
        {
            failed = Some(e);
        }
    })?;
    if let Some(e) = failed {
        // A closed pipe (`receipts export | head`) is a normal way to stop reading.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    out.flush().or_else(|e| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Ok(())
        } else {
            Err(e)
        }
    })?;
    Ok(())
}
