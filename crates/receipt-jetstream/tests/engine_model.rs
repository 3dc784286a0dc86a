//! The Engine on JetStream against the reference model: the same run as the engine on sled
//! (tests/model_run/mod.rs: commands, repeats, retries, restarts, checkpoints, batches, thread
//! commands, policy changes, clock jumps, under a memory budget drawn per case), each restart
//! a reopening that replays the partitions from the server. Half the cases use one partition
//! (positions survive a reopening, and are checked), half use three (a reopening numbers
//! positions anew: notifications are compared without them). Accepted no-ops are recorded in
//! the partitions, so their retries are checked across reopenings too. Each case runs under its own
//! prefix on one server this test starts. `PROPTEST_CASES` sets the number of cases (default
//! 48).

#[path = "../../../tests/support/mod.rs"]
#[allow(dead_code)] // the root tests' checks; the run uses the cold-fold comparison
mod checks;
#[path = "../../receipt-domain/tests/support/model.rs"]
#[allow(dead_code)] // The model also serves queries this test does not compare.
mod model;
#[path = "../../../tests/model_run/mod.rs"]
mod model_run;
mod support;

use model_run::{any_budget, any_step, run_case, Opener};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use receipt_engine::*;
use receipt_jetstream::*;
use std::sync::Arc;

/// The engine on a JetStream log, owning all its partitions, reopened by a replay.
struct OnJetStream {
    log: Arc<JetStreamLog>,
}

impl Opener for OnJetStream {
    type B = store::MemoryBackend;
    type Handle = JetStreamEngine;

    fn open(&mut self, options: EngineOptions) -> JetStreamEngine {
        JetStreamEngine::open(self.log.clone(), &Ownership::all("model"), options).unwrap()
    }

    fn positions_kept(&self) -> bool {
        self.log.partitions() == 1
    }
}

#[test]
fn the_engine_on_jetstream_matches_the_reference_model_across_reopenings() {
    let server = support::NatsServer::start();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48);
    let mut runner = TestRunner::new(Config::with_cases(cases));
    // Each case (and each shrinking step) gets fresh streams under a prefix of its own.
    let cases_run = std::sync::atomic::AtomicU32::new(0);
    let strategy = (
        prop::collection::vec(any_step(), 1..50),
        any_budget(),
        prop_oneof![Just(1u32), Just(3u32)],
    );
    runner
        .run(&strategy, |(steps, budget, partitions)| {
            let case = cases_run.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            let options = JetStreamOptions::new(server.url.clone())
                .with_partitions(partitions)
                .with_prefix(format!("case{case}"));
            let log = Arc::new(JetStreamLog::connect(&options).unwrap());
            run_case(&mut OnJetStream { log }, steps, budget)
        })
        .unwrap();
}
