//! The CI smoke run of the comparison: every variant, fed the same seeded workload, answers
//! every unread and ack-count query like the engine, before and after a cold reopen.

use receipt_bench::*;
use receipt_workload::WorkloadConfig;

fn run(
    variant: &mut dyn Variant,
    decisions: &[Vec<receipt_domain::Event>],
    state: &receipt_domain::State,
) {
    for chunk in decisions.chunks(64) {
        variant.commit(chunk).unwrap();
    }
    check_projections(variant, state, decisions).unwrap();
    variant.reopen().unwrap();
    check_projections(variant, state, decisions).unwrap();
    assert!(variant.disk_bytes() > 0, "{} wrote nothing", variant.name());
}

#[test]
fn every_variant_produces_the_engines_projections() {
    let (decisions, state) = decided(&WorkloadConfig::sized(4_000, 11));
    let (pairs, messages) = query_sample(&state, &decisions);
    assert!(
        pairs.len() > 1_000 && messages.len() > 50,
        "the sample exercises the queries"
    );
    assert!(pairs.iter().any(|(u, c)| state.unread_count(u, c) > 0));
    let dir = tempfile::tempdir().unwrap();
    let mut engine = EngineVariant::open(
        dir.path().join("engine"),
        receipt_store::Durability::Buffered,
    )
    .unwrap();
    engine.snapshot_on_reopen = true;
    run(&mut engine, &decisions, &state);
    run(
        &mut SqliteVariant::open(dir.path().join("strong.db"), true).unwrap(),
        &decisions,
        &state,
    );
    run(
        &mut SqliteVariant::open(dir.path().join("naive.db"), false).unwrap(),
        &decisions,
        &state,
    );
    run(
        &mut RawSledVariant::open(dir.path().join("raw")).unwrap(),
        &decisions,
        &state,
    );
}
