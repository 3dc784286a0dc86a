//! Criterion micro-benchmarks of the engine: fold, append (batch size x durability), rebuild
//! (with and without snapshot), queries. `cargo bench --bench criterion`.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use receipt_bench::check::query_sample;
use receipt_bench::plan::Plan;
use receipt_domain::*;
use receipt_store::{AppendRequest, Durability, SledLog};
use receipt_workload::WorkloadConfig;
use std::time::Duration;

fn workload() -> (Vec<Vec<Event>>, State) {
    let plan = Plan::decide(&WorkloadConfig::sized(50_000, 42), None);
    let decisions = plan
        .commands
        .into_iter()
        .filter_map(|p| p.events)
        .filter(|e| !e.is_empty())
        .collect();
    (decisions, plan.state)
}

fn fold(c: &mut Criterion) {
    let (decisions, _) = workload();
    let events: Vec<Event> = decisions.into_iter().flatten().collect();
    let mut g = c.benchmark_group("fold");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("standard workload", |b| {
        b.iter(|| State::from_events(&events))
    });
    g.finish();
}

fn append(c: &mut Criterion) {
    let (decisions, _) = workload();
    let mut g = c.benchmark_group("append");
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    for durability in [
        Durability::EveryAppend,
        Durability::GroupCommit,
        Durability::Buffered,
    ] {
        for batch in [1usize, 10, 100, 1000] {
            let n = if batch == 1 { 200 } else { 2000 };
            let sample = &decisions[..n];
            g.throughput(Throughput::Elements(
                sample.iter().map(Vec::len).sum::<usize>() as u64,
            ));
            g.bench_with_input(
                BenchmarkId::new(format!("{durability:?}"), batch),
                &batch,
                |b, &batch| {
                    b.iter_batched(
                        || {
                            let dir = tempfile::tempdir().expect("tempdir");
                            let log = SledLog::open_dir(dir.path(), durability).expect("open");
                            (dir, log)
                        },
                        |(_dir, log)| {
                            let mut versions = std::collections::HashMap::new();
                            for chunk in sample.chunks(batch) {
                                let requests: Vec<AppendRequest> = chunk
                                    .iter()
                                    .map(|events| {
                                        let conversation = events[0].body.conversation();
                                        let v =
                                            versions.entry(conversation.clone()).or_insert(0u64);
                                        let expected_version = *v;
                                        *v += events.len() as u64;
                                        AppendRequest {
                                            conversation,
                                            expected_version,
                                            events: events.clone(),
                                        }
                                    })
                                    .collect();
                                log.append_batch(&requests).expect("append");
                            }
                        },
                        BatchSize::PerIteration,
                    )
                },
            );
        }
    }
    g.finish();
}

fn rebuild(c: &mut Criterion) {
    let (decisions, state) = workload();
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let log = SledLog::open_dir(dir.path(), Durability::Buffered).expect("open");
        for chunk in decisions.chunks(500) {
            let mut versions = std::collections::HashMap::new();
            let requests: Vec<AppendRequest> = chunk
                .iter()
                .map(|events| {
                    let conversation = events[0].body.conversation();
                    let base = *versions
                        .entry(conversation.clone())
                        .or_insert_with(|| log.version(&conversation).expect("version"));
                    versions.insert(conversation.clone(), base + events.len() as u64);
                    AppendRequest {
                        conversation,
                        expected_version: base,
                        events: events.clone(),
                    }
                })
                .collect();
            log.append_batch(&requests).expect("append");
        }
        log.flush().expect("flush");
    }
    let events = decisions.iter().map(Vec::len).sum::<usize>() as u64;
    let mut g = c.benchmark_group("rebuild");
    g.sample_size(10).throughput(Throughput::Elements(events));
    g.bench_function("cold open + full replay", |b| {
        b.iter(|| {
            SledLog::open_dir(dir.path(), Durability::Buffered)
                .expect("open")
                .rebuild()
                .expect("rebuild")
        })
    });
    SledLog::open_dir(dir.path(), Durability::Buffered)
        .expect("open")
        .save_snapshot(events, &state)
        .expect("snapshot");
    g.bench_function("cold open + snapshot", |b| {
        b.iter(|| {
            SledLog::open_dir(dir.path(), Durability::Buffered)
                .expect("open")
                .recover()
                .expect("recover")
        })
    });
    g.finish();
}

fn queries(c: &mut Criterion) {
    let plan = Plan::decide(&WorkloadConfig::sized(50_000, 42), None);
    let (pairs, messages) = query_sample(&plan);
    let state = &plan.state;
    let policy = Policy::all_receipts_on();
    let senders: Vec<(MessageId, UserId)> = messages
        .iter()
        .filter_map(|m| Some((*m, state.message_sender(m)?)))
        .collect();
    let mut g = c.benchmark_group("queries");
    let mut i = 0;
    g.bench_function("unread", |b| {
        b.iter(|| {
            i = (i + 1) % pairs.len();
            state.unread_count(&pairs[i].0, &pairs[i].1)
        })
    });
    g.bench_function("badge", |b| {
        b.iter(|| {
            i = (i + 1) % pairs.len();
            state.total_unread(&pairs[i].0)
        })
    });
    g.bench_function("ack count", |b| {
        b.iter(|| {
            i = (i + 1) % senders.len();
            state.group_ack_count(&policy, &senders[i].1, &senders[i].0)
        })
    });
    g.bench_function("reader page of 20", |b| {
        b.iter(|| {
            i = (i + 1) % senders.len();
            state.fetch_group_acks(&policy, &senders[i].1, &senders[i].0, None, 20)
        })
    });
    g.finish();
}

criterion_group!(benches, fold, append, rebuild, queries);
criterion_main!(benches);
