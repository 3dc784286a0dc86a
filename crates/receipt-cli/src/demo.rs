//! `receipts demo`: a seeded workload through the engine (on sled, or with `--nats` on
//! JetStream), then a report.

use crate::output::{count, explain, time};
use crate::Result;
use receipt_engine::store::Backend;
use receipt_engine::*;
use receipt_workload::{Workload, WorkloadConfig};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

pub fn run(db: &Path, commands: u64, seed: u64, durability: Durability, reset: bool) -> Result {
    if db.join("conf").exists() {
        if !reset {
            return Err(format!("{} already holds a store; pass --reset to replace it or --db to choose another directory", db.display()).into());
        }
        std::fs::remove_dir_all(db)?;
    }
    let config = WorkloadConfig::sized(commands, seed);
    let engine = Engine::open(
        db,
        EngineOptions::default()
            .with_policy(config.policy())
            .with_durability(durability),
    )?;
    println!("receipts demo into {}", db.display());
    let events = drive(&engine, &config, &format!("durability {durability:?}"))?;
    let bytes = engine.log().backend().size_bytes();
    println!(
        "store: {} bytes on disk ({:.0} bytes/event)",
        count(bytes),
        bytes as f64 / events.max(1) as f64
    );
    Ok(())
}

/// `receipts --nats URL demo`: the same workload through the Engine on JetStream, owning every
/// partition of the log under `prefix` (created if missing; it must hold nothing yet).
pub fn run_nats(url: &str, prefix: &str, commands: u64, seed: u64) -> Result {
    let config = WorkloadConfig::sized(commands, seed);
    let engine = crate::nats::open_engine(url, prefix, config.policy(), true)?;
    if engine.head() > 0 {
        return Err(format!("the JetStream log with prefix {prefix} at {url} already holds {} events; choose another --nats-prefix (a JetStream log is never deleted by this tool)", engine.head()).into());
    }
    println!(
        "receipts demo into the JetStream log at {url}, prefix {prefix} ({} partitions, all owned by this process)",
        engine.partitions().len()
    );
    let events = drive(
        &engine,
        &config,
        "durability: acknowledged by JetStream (see docs/scale-out.md)",
    )?;
    println!(
        "log: {} events in JetStream; `receipts --nats {url} --nats-prefix {prefix} verify` checks them",
        count(events)
    );
    Ok(())
}

/// Runs the workload of `config` through `engine` and prints the report; returns the events
/// written.
fn drive<B: Backend>(engine: &Engine<B>, config: &WorkloadConfig, durability: &str) -> Result<u64> {
    let (commands, seed) = (config.commands, config.seed);
    let workload = Workload::new(config.clone());
    let setup = workload.setup_commands() as u64;
    let bar = indicatif::ProgressBar::new(setup + commands);
    // Fits 80 columns; the rate is ours, rounded (indicatif's {per_sec} prints 4 decimals).
    bar.set_style(indicatif::ProgressStyle::with_template(
        "{bar:30} {human_pos}/{human_len} commands {msg}",
    )?);

    let (mut events, mut no_ops) = (0u64, 0u64);
    let mut declined: BTreeMap<String, u64> = BTreeMap::new();
    let mut rejected: BTreeMap<String, u64> = BTreeMap::new();
    let mut with_acks: Vec<(MessageId, UserId)> = Vec::new();
    let start = Instant::now();
    for (i, command) in workload.enumerate() {
        match engine.execute_command(command) {
            Ok(out) => {
                events += out.events.len() as u64;
                match out.note {
                    Some(Note::AlreadyDone) => no_ops += 1,
                    Some(Note::GroupAckDeclined(why)) => {
                        *declined.entry(why.kind().to_string()).or_default() += 1
                    }
                    _ => {}
                }
                for e in &out.events {
                    if let EventBody::MessageSent {
                        message,
                        sender,
                        group_ack: GroupAck::Enabled,
                        ..
                    } = &e.body
                    {
                        with_acks.push((*message, sender.clone()));
                    }
                }
            }
            Err(EngineError::Rejected(e)) => {
                *rejected.entry(e.kind().to_string()).or_default() += 1
            }
            Err(e) => return Err(e.into()),
        }
        if i % 1024 == 0 {
            bar.set_position(i as u64);
            let rate = i as f64 / start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("{}/s", count(rate as u64)));
        }
    }
    engine.flush()?;
    let secs = start.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let mut largest_group = 0;
    for g in (0..config.groups).filter_map(|g| GroupId::new(format!("group{g}")).ok()) {
        let members =
            engine.with_partition(&ConversationId::Group(g.clone()), |s, _| s.member_count(&g))?;
        largest_group = largest_group.max(members);
    }
    println!(
        "workload: seed {seed}, {} setup joins + {} commands; {} users, {} groups (largest {} members now; group receipts up to {}), {} direct chats",
        count(setup),
        count(commands),
        count(u64::from(config.users)),
        count(u64::from(config.groups)),
        count(largest_group as u64),
        config.max_group_size,
        count(u64::from(config.direct_chats))
    );
    println!(
        "wrote {} events in {secs:.2} s: {} events/s ({} commands/s), {durability}",
        count(events),
        count((events as f64 / secs) as u64),
        count(((setup + commands) as f64 / secs) as u64)
    );
    println!(
        "accepted with nothing to record (already done): {}",
        count(no_ops)
    );
    let rejected_total: u64 = rejected.values().sum();
    println!(
        "rejected, changing nothing: {} (the generator, like real clients, sends some commands the rules refuse)",
        count(rejected_total)
    );
    tally(&rejected);
    println!(
        "sent without the group read receipts they asked for: {}",
        count(declined.values().sum())
    );
    tally(&declined);

    let mut badges: Vec<(u64, UserId)> = Vec::new();
    for user in (0..config.users).filter_map(|i| UserId::new(format!("user{i}")).ok()) {
        badges.push((engine.total_unread(&user)?, user));
    }
    badges.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    println!("users with the largest badges:");
    for (badge, user) in badges.iter().take(3) {
        let mut convs = engine.conversations(user)?;
        convs.sort_by_key(|c| std::cmp::Reverse(c.unread));
        let top: Vec<String> = convs
            .iter()
            .take(3)
            .map(|c| format!("{} = {}", c.conversation, c.unread))
            .collect();
        println!(
            "  {user:<10} badge {badge:>5} over {} conversations; most unread: {}",
            convs.len(),
            top.join(", ")
        );
    }
    let best = with_acks
        .iter()
        .filter_map(|(m, sender)| {
            Some((engine.group_ack_count(sender, *m).ok()?, *m, sender.clone()))
        })
        .max_by_key(|(count, _, _)| *count);
    if let Some((count, message, sender)) = best {
        println!("most-read group message {message} (sent by {sender}): {count} members acked; first page:");
        for e in engine.fetch_group_acks(&sender, message, None, 5)?.entries {
            println!("  {:<10} at {}", e.reader, time(e.at_ms));
        }
    }
    Ok(events)
}

/// One line per reason, most frequent first, with what it means.
fn tally(map: &BTreeMap<String, u64>) {
    let mut rows: Vec<(&String, &u64)> = map.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    for (kind, n) in rows {
        println!("  {:>9}  {kind}: {}", count(*n), explain(kind));
    }
}
