//! The real Engine on sled against the reference model, over random command sequences with
//! restarts, checkpoints, repeated commands, retries (an accepted command sent again with its
//! id, later), rejected commands, policy changes and clock jumps, under a memory budget drawn
//! per case: tiny (every command evicts the other conversations, so queries answer from
//! summaries and cold loads), small, or the default.
//! After every step every query is compared; at the end the notifications recomputed from the
//! log equal those seen live, and every partition, badge and list equals a cold fold.

#[path = "support/mod.rs"]
#[allow(dead_code)] // The shared checks; this test uses the cold-fold comparison.
mod checks;
#[path = "../crates/receipt-domain/tests/support/model.rs"]
#[allow(dead_code)] // The model also serves queries this test does not compare.
mod model;
mod model_run;

use model_run::{any_budget, any_step, run_case, Opener};
use proptest::prelude::*;
use receipt_engine::*;

/// The engine on sled, reopened from its directory.
struct OnSled(tempfile::TempDir);

impl Opener for OnSled {
    type B = store::SledBackend;
    type Handle = Box<Engine>;

    fn open(&mut self, options: EngineOptions) -> Box<Engine> {
        Box::new(Engine::open(self.0.path(), options).unwrap())
    }

    fn positions_kept(&self) -> bool {
        true
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(100)))]

    #[test]
    fn engine_matches_reference_model_across_restarts(
        steps in prop::collection::vec(any_step(), 1..50),
        budget in any_budget(),
    ) {
        run_case(&mut OnSled(tempfile::tempdir().unwrap()), steps, budget)?;
    }
}
