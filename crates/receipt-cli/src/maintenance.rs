//! `receipts rebuild | verify | export`.

use crate::Result;
use receipt_engine::store::{Durability, SledLog, StoredEvent};
use receipt_engine::*;
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
    crate::existing_store(db)?;
    let r = receipt_engine::store::verify_store(db)?;
    let snapshot = match r.snapshot_position {
        Some(p) => format!("snapshot at {p} matches a replay"),
        None => "no usable snapshot".into(),
    };
    println!(
        "ok: {} events in {} chunks readable and gapless, all {} acknowledged events present and unchanged, {} streams and every event id indexed, {snapshot}",
        r.events, r.chunks, r.acknowledged, r.streams
    );
    Ok(())
}

pub fn salvage(db: &Path, into: &Path) -> Result {
    crate::existing_store(db)?;
    let r = receipt_engine::store::salvage(db, into)?;
    println!(
        "copied {} events and {} no-op command records into {}",
        r.kept_events,
        r.kept_noop_records,
        into.display()
    );
    if let Some(acked) = r.acknowledged {
        println!("the damaged store's ledger records {acked} acknowledged events");
    }
    if r.dropped.is_empty() {
        println!("nothing was dropped");
    }
    for d in &r.dropped {
        let to = d.to.map_or("the end".to_string(), |t| t.to_string());
        println!("dropped positions {}..{to}: {}", d.from, d.reason);
    }
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
