//! What JetStream atomic batches would give an owner's appends, measured at the log level: the
//! evidence behind docs/scale-out.md's paragraph on a group commit per partition (not built).
//!
//! `NATS_SERVER_BIN=target/nats/bin/nats-server cargo run --release -p receipt-jetstream --example atomic_batches`
//!
//! 16 partitions (streams, `allow_atomic`), one writer each, as an owner appends: every write
//! fenced at the stream's last sequence (`Nats-Expected-Last-Sequence`, moved by the answer),
//! carrying a message id and a subject expectation, 120-byte payloads, 4 s per figure. A write
//! is one message published and acknowledged, or an atomic batch of K messages (the first
//! fenced, the last committing; only the commit is answered). On one server (default sync:
//! the server's write) and on a 3-node cluster (3 replicas: a quorum's writes); servers started
//! here on 127.0.0.1. Prints a table of messages/s.

#[path = "../tests/support/mod.rs"]
mod support;

use async_nats::jetstream::{self, stream};
use async_nats::HeaderMap;
use bytes::Bytes;
use std::time::{Duration, Instant};

const PARTITIONS: usize = 16;
const SECONDS: u64 = 4;

/// Connects, retrying while a fresh cluster forms.
async fn connect(urls: &str) -> async_nats::Client {
    let addrs: Vec<async_nats::ServerAddr> = urls
        .split(',')
        .map(|u| u.parse().expect("a server address"))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match async_nats::ConnectOptions::new()
            .connect(addrs.clone())
            .await
        {
            Ok(client) => return client,
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for the servers: {e}");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => panic!("no server: {e}"),
        }
    }
}

/// Creates the partitions' streams `{prefix}{p}` (retrying while the cluster elects leaders).
async fn streams(js: &jetstream::Context, prefix: &str, replicas: usize) {
    for p in 0..PARTITIONS {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let created = js
                .create_stream(stream::Config {
                    name: format!("{prefix}{p}"),
                    subjects: vec![format!("{prefix}{p}.>")],
                    num_replicas: replicas,
                    allow_atomic_publish: true,
                    ..Default::default()
                })
                .await;
            match created {
                Ok(_) => break,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("creating a stream: {e}");
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Err(e) => panic!("no stream: {e}"),
            }
        }
    }
}

/// Messages/s of 16 fenced writers (one per partition), `per_write` messages per write;
/// `atomic`: each write an atomic batch (else a plain publish, `per_write` 1).
async fn rate(client: &async_nats::Client, prefix: &str, per_write: usize, atomic: bool) -> f64 {
    let js = jetstream::new(client.clone());
    let started = Instant::now();
    let writers: Vec<_> = (0..PARTITIONS)
        .map(|p| {
            let (client, js) = (client.clone(), js.clone());
            let stream = format!("{prefix}{p}");
            tokio::spawn(async move {
                let mut fence = js
                    .get_stream(&stream)
                    .await
                    .expect("stream")
                    .info()
                    .await
                    .expect("info")
                    .state
                    .last_sequence;
                let mut written = 0u64;
                let mut write = 0u64;
                while started.elapsed() < Duration::from_secs(SECONDS) {
                    write += 1;
                    for i in 0..per_write {
                        let id = format!("{atomic}-{per_write}-{write}-{i}");
                        let subject = format!("{stream}.{id}");
                        let mut headers = HeaderMap::new();
                        headers.insert("Nats-Msg-Id", id.as_str());
                        headers.insert("Nats-Expected-Last-Subject-Sequence", "0");
                        if i == 0 {
                            headers
                                .insert("Nats-Expected-Last-Sequence", fence.to_string().as_str());
                        }
                        if atomic {
                            let batch = format!("{atomic}-{per_write}-{write}");
                            headers.insert("Nats-Batch-Id", batch.as_str());
                            headers.insert("Nats-Batch-Sequence", (i + 1).to_string().as_str());
                        }
                        let payload = Bytes::from(vec![7u8; 120]);
                        if i + 1 < per_write {
                            client
                                .publish_with_headers(subject, headers, payload)
                                .await
                                .expect("published");
                            continue;
                        }
                        if atomic {
                            headers.insert("Nats-Batch-Commit", "1");
                        }
                        let ack = js
                            .publish_with_headers(subject, headers, payload)
                            .await
                            .expect("sent")
                            .await
                            .expect("stored");
                        fence = ack.sequence;
                    }
                    written += per_write as u64;
                }
                written
            })
        })
        .collect();
    let mut written = 0;
    for w in writers {
        written += w.await.expect("writer");
    }
    written as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let single = support::NatsServer::start();
    let cluster = support::NatsCluster::start(3);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    println!("16 partitions, one fenced writer each; messages/s");
    println!();
    println!("| server | plain publish | atomic batch of 1 | of 2 | of 4 | of 8 |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (name, urls, replicas) in [
        ("1 server, default sync", single.url.clone(), 1),
        ("3-node cluster, 3 replicas", cluster.urls(), 3),
    ] {
        let figures = runtime.block_on(async {
            let client = connect(&urls).await;
            let js = jetstream::new(client.clone());
            streams(&js, "ab", replicas).await;
            let mut figures = vec![rate(&client, "ab", 1, false).await];
            for k in [1, 2, 4, 8] {
                figures.push(rate(&client, "ab", k, true).await);
            }
            figures
        });
        let cells: Vec<String> = figures.iter().map(|f| format!("{f:.0}")).collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
}
