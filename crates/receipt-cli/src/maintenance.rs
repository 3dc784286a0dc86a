//! `receipts rebuild | verify | export`.

use crate::output::count;
use crate::Result;
use receipt_engine::store::{Durability, SledLog, StoredEvent};
use receipt_engine::*;
use std::io::Write;
use std::path::Path;

fn open_log(db: &Path) -> Result<SledLog> {
    crate::existing_store(db)?;
    Ok(SledLog::open_dir(db, Durability::EveryAppend)?)
}

pub fn rebuild(db: &Path) -> Result {
    let log = open_log(db)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let r = rebuild_checkpoints(&log, threads)?;
    let secs = r.fold.as_secs_f64();
    println!(
        "rebuilt {} conversations from {} events: folded in {secs:.2} s on {} threads ({} events/s), checkpoints written in {:.2} s",
        crate::output::count(r.conversations),
        crate::output::count(r.events),
        r.fold_threads,
        crate::output::count((r.events as f64 / secs.max(1e-9)) as u64),
        r.write.as_secs_f64()
    );
    Ok(())
}

pub fn verify(db: &Path) -> Result {
    crate::existing_store(db)?;
    let r = receipt_engine::store::verify_store(db)?;
    let c = r.checkpoint;
    let checkpoint = match c.marker {
        _ if c.other_layout.is_some() => format!(
            "checkpoint of layout {} written by another build (this one's is {}): the next open rebuilds it from the log",
            c.other_layout.unwrap_or_default(),
            receipt_engine::store::CHECKPOINT_LAYOUT_VERSION
        ),
        None => "no checkpoint yet (the next open folds the whole log)".to_string(),
        Some(m) if m == r.events => format!(
            "checkpoint at the head: {} partitions, {} headers and {} summaries equal a fold of the log",
            count(c.partitions),
            count(c.headers),
            count(c.summaries)
        ),
        Some(m) => format!(
            "checkpoint {} events behind the head (the next open folds them): {} partitions equal a fold of their streams",
            count(r.events - m),
            count(c.partitions)
        ),
    };
    println!(
        "ok: {} events in {} chunks readable and gapless, all {} acknowledged events present and unchanged, {} streams and every event id indexed, {checkpoint}",
        count(r.events),
        count(r.chunks),
        count(r.acknowledged),
        count(r.streams)
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
pub(crate) fn conversations_as_strings(value: &mut serde_json::Value, conversation: &str) {
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

/// A log to read: opened read-only (it writes nothing) when the store allows it; a store
/// that needs a recovery first (a crash, an older layout) is opened the way a writer opens it.
fn open_log_to_read(db: &Path) -> Result<SledLog> {
    crate::existing_store(db)?;
    match SledLog::open_dir_read_only(db, None) {
        Err(store::StoreError::NeedsRecovery { reason, .. }) => {
            tracing::info!(%reason, "recovering the store before reading it");
            open_log(db)
        }
        opened => Ok(opened?),
    }
}

pub fn export(db: &Path, from: u64) -> Result {
    let log = open_log_to_read(db)?;
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
    finish_output(out, failed)
}

/// Ends an export: the first write failure is the answer, but a closed pipe (`receipts export
/// | head`) is a normal way to stop reading.
pub fn finish_output(mut out: impl Write, failed: Option<std::io::Error>) -> Result {
    if let Some(e) = failed {
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
