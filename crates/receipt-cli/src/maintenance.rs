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
        "{bar:30} {human_pos}/{human_len} events {msg}",
    )?);
    let start = Instant::now();
    let mut state = State::new();
    log.replay(0, |e| {
        state.apply(&e.event);
        // Often enough to move smoothly; indicatif redraws at most 20 times a second anyway.
        if e.position % 4_096 == 0 {
            bar.set_position(e.position);
            let rate = e.position as f64 / start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("{}/s", crate::output::count(rate as u64)));
        }
    })?;
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    log.save_snapshot(total, &state)?;
    println!(
        "rebuilt {} events ({} messages) in {secs:.2} s: {} events/s; snapshot stored at position {total}",
        crate::output::count(total),
        crate::output::count(state.message_count() as u64),
        crate::output::count((total as f64 / secs.max(1e-9)) as u64)
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
struct Line {
    position: u64,
    stream: String,
    kind: &'static str,
    event: serde_json::Value,
}

/// Every `conversation` field as the `direct:a+b` / `group:g` string the tables print (the
/// derived serde form, `{"Group":"g"}`, is the one snapshots store, so it stays as it is).
fn conversations_as_strings(value: &mut serde_json::Value, conversation: &str) {
    match value {
        serde_json::Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                if name == "conversation" && field.is_object() {
                    *field = serde_json::Value::String(conversation.to_string());
                } else {
                    conversations_as_strings(field, conversation);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                conversations_as_strings(item, conversation);
            }
        }
        _ => {}
    }
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
        let stream = event.body.conversation().to_string();
        let written = serde_json::to_value(&event).and_then(|mut value| {
            conversations_as_strings(&mut value, &stream);
            serde_json::to_writer(
                &mut out,
                &Line {
                    position,
                    kind: event.body.kind_name(),
                    stream,
                    event: value,
                },
            )
        });
        if let Err(e) = written
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
