//! The CI run of the comparison's correctness (not its timing): every store, fed the same
//! seeded commands through the same phases as the benchmark (batches, one client, many
//! clients), answers every unread and ack-count query like the reference (raw sled: holds
//! every event once), and every way of reopening what it stored answers like the reference.

use receipt_bench::check::query_sample;
use receipt_bench::run::startup::{open_and_answer, Opener};
use receipt_bench::run::{plan_of, throughput};
use receipt_bench::stores::Kind;

#[test]
fn every_store_matches_the_reference_through_every_phase_and_after_reopening() {
    let plan = plan_of(6_000, 11);
    let (pairs, messages) = query_sample(&plan);
    assert!(
        pairs.len() > 1_000 && messages.len() > 50,
        "the sample exercises the queries"
    );
    assert!(
        plan.commands.iter().any(|p| p.events.is_none()),
        "some commands are rejected"
    );
    let probes: Vec<_> = pairs
        .iter()
        .filter(|(u, c)| plan.state.unread_count(u, c) > 0)
        .take(20)
        .collect();
    assert!(!probes.is_empty());
    let scratch = tempfile::tempdir().unwrap();
    for kind in Kind::ALL {
        let dir = scratch.path().join(kind.cli_name());
        // measure() checks the store against the reference before it returns a row.
        let row = throughput::measure(kind, &plan, &dir, 4, 200, 800)
            .unwrap_or_else(|e| panic!("{}: {e}", kind.title()));
        assert_eq!(row.events, plan.events);
        assert_eq!(
            row.bulk_events + row.single_events + row.concurrent_events,
            plan.events,
            "{}: every phase's events were counted",
            kind.title()
        );
        assert!(row.concurrent_events > 0 && row.single_events > 0);
        assert!(
            row.disk_bytes_per_event > 0.0,
            "{} wrote nothing",
            kind.title()
        );
        for &opener in Opener::for_kind(kind) {
            for (u, c) in &probes {
                open_and_answer(opener, &dir, u, c, |got| {
                    assert_eq!(got, plan.state.unread_count(u, c), "{}", opener.title());
                    Ok(())
                })
                .unwrap();
            }
        }
    }
}
