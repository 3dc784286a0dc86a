//! `--nats URL`: the commands on an event log on NATS JetStream (docs/scale-out.md): `verify`
//! and `export` read the log; `demo`, `inspect` and `exec` run the Engine on it, owning every
//! partition while they run.

use crate::output::{count, NotFound};
use crate::Result;
use receipt_engine::{EngineOptions, Policy};
use receipt_jetstream::{
    JetStreamEngine, JetStreamError, JetStreamLog, JetStreamOptions, Ownership,
};
use std::io::Write;
use std::sync::Arc;

/// The Engine on the JetStream log at `url` under `prefix` (created when `create`, else it must
/// exist), owning every partition: waits up to 15 s for a lease another process holds.
pub fn open_engine(
    url: &str,
    prefix: &str,
    policy: Policy,
    create: bool,
) -> Result<JetStreamEngine> {
    let log = if create {
        JetStreamLog::connect(&JetStreamOptions::new(url).with_prefix(prefix))?
    } else {
        open(url, prefix)?
    };
    let owner = format!("receipts-cli-{}", std::process::id());
    let ownership = Ownership::all(owner).with_wait_for_lease_ms(15_000);
    Ok(JetStreamEngine::open(
        Arc::new(log),
        &ownership,
        EngineOptions::default().with_policy(policy),
    )?)
}

/// The JetStream log at `url` under `prefix`, if it exists (nothing is created).
fn open(url: &str, prefix: &str) -> Result<JetStreamLog> {
    let options = JetStreamOptions::new(url).with_prefix(prefix);
    match JetStreamLog::open_existing(&options) {
        Err(JetStreamError::NoLog { prefix }) => {
            Err(NotFound(format!("no receipt log with prefix {prefix} at {url}")).into())
        }
        other => Ok(other?),
    }
}

pub fn verify(url: &str, prefix: &str) -> Result {
    let r = open(url, prefix)?.verify()?;
    println!(
        "ok: {} events in {} decisions over {} partitions, every record's checksum and position checked, {} conversations each with consecutive versions, every event id once; {} no-op records",
        count(r.events),
        count(r.decisions),
        r.partitions,
        count(r.conversations),
        count(r.noops)
    );
    Ok(())
}

/// `receipts --nats URL salvage --into-prefix NEW`: every good record into a new log under
/// `into` (created; it must hold no message), each message left behind listed.
pub fn salvage(url: &str, prefix: &str, into: &str) -> Result {
    let damaged = open(url, prefix)?;
    let target = JetStreamLog::connect(
        &JetStreamOptions::new(url)
            .with_prefix(into)
            .with_partitions(damaged.partitions()),
    )?;
    let r = damaged.salvage_into(&target)?;
    println!(
        "copied {} events in {} decisions and {} no-op records into the log with prefix {into}",
        r.events, r.decisions, r.noops
    );
    if r.dropped.is_empty() {
        println!("nothing was dropped");
    }
    for d in &r.dropped {
        println!(
            "dropped partition {}, stream sequence {}: {}",
            d.partition, d.sequence, d.reason
        );
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct Line {
    partition: u32,
    sequence: u64,
    version: u64,
    stream: String,
    kind: &'static str,
    event: serde_json::Value,
}

pub fn export(url: &str, prefix: &str) -> Result {
    let log = open(url, prefix)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = None;
    for partition in 0..log.partitions() {
        log.replay_partition(partition, 1, |conversation, e| {
            if failed.is_some() {
                return;
            }
            let stream = conversation.to_string();
            let written = serde_json::to_value(&e.event).and_then(|mut value| {
                crate::maintenance::conversations_as_strings(&mut value, &stream);
                serde_json::to_writer(
                    &mut out,
                    &Line {
                        partition,
                        sequence: e.sequence,
                        version: e.version,
                        kind: e.event.body.kind_name(),
                        stream,
                        event: value,
                    },
                )
            });
            if let Err(err) = written
                .map_err(std::io::Error::from)
                .and_then(|_| out.write_all(b"\n"))
            {
                failed = Some(err);
            }
        })?;
    }
    crate::maintenance::finish_output(out, failed)
}
