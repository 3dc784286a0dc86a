//! `receipts demo`: a seeded workload through the engine on sled, then a report.

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
    let workload = Workload::new(config.clone());
    let setup = workload.setup_commands() as u64;
    let engine = Engine::open(
        db,
        EngineOptions::default()
            .with_policy(config.policy())
            .with_durability(durability),
    )?;
    let bar = indicatif::ProgressBar::new(setup + commands);
    bar.set_style(indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} commands {per_sec} eta {eta}",
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
        }
    }
    engine.flush()?;
    let secs = start.elapsed().as_secs_f64();
    bar.finish_and_clear();

    println!("receipts demo into {}", db.display());
    println!(
        "workload: seed {seed}, {} setup joins + {commands} commands; {} users, {} groups (largest 3000 members, cap {}), {} direct chats",
        setup, config.users, config.groups, config.max_group_size, config.direct_chats
    );
    println!(
        "wrote {events} events in {secs:.2} s: {:.0} events/s ({:.0} commands/s), durability {durability:?}",
        events as f64 / secs,
        (setup + commands) as f64 / secs
    );
    println!(
        "repeats (no-ops): {no_ops}; rejected: {}",
        rejected.values().sum::<u64>()
    );
    println!("group read receipts declined: {}", tally(&declined));
    println!("rejected by reason: {}", tally(&rejected));

    let mut badges: Vec<(u64, UserId)> =
        engine.with_state(|s, _| s.users().map(|u| (s.total_unread(u), u.clone())).collect());
    badges.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    println!("users with the largest badges:");
    for (badge, user) in badges.iter().take(3) {
        let mut convs = engine.conversations(user);
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
            println!("  {:<10} at {} ms", e.reader, e.at_ms);
        }
    }
    let bytes = engine.log().backend().size_bytes();
    println!(
        "store: {bytes} bytes on disk ({:.0} bytes/event)",
        bytes as f64 / events.max(1) as f64
    );
    Ok(())
}

fn tally(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "none".into();
    }
    map.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
