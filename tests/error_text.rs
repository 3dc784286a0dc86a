//! Error messages say their cause once: the OS's reason and the path in the message itself,
//! and no `source()` repeating it (a printer of error chains, like the CLI's, would print it
//! twice).

use receipt_engine::*;
use std::error::Error;

/// Every message of an error's chain, outermost first.
fn chain(e: &dyn Error) -> Vec<String> {
    let mut out = vec![e.to_string()];
    let mut next = e.source();
    while let Some(s) = next {
        out.push(s.to_string());
        next = s.source();
    }
    out
}

fn disk_full() -> store::StoreError {
    store::StoreError::io(
        "/srv/receipts/receipts.ledger",
        std::io::Error::from_raw_os_error(28),
    )
}

#[test]
fn an_io_error_names_its_path_and_the_os_reason_once() {
    let e = disk_full();
    let text = e.to_string();
    assert!(text.contains("/srv/receipts/receipts.ledger"), "{text}");
    assert!(text.contains("No space left on device"), "{text}");
    assert_eq!(chain(&e).len(), 1, "{:?}", chain(&e));
}

#[test]
fn a_stopped_engine_says_why_it_stopped() {
    let e = EngineError::Stopped(std::sync::Arc::new(disk_full()));
    let text = e.to_string();
    assert!(
        text.contains("No space left on device") && text.contains("receipts.ledger"),
        "{text}"
    );
    assert!(text.contains("reopen it"), "{text}");
    assert_eq!(chain(&e).len(), 1, "{:?}", chain(&e));
}

#[test]
fn an_invalid_policy_is_said_once() {
    let policy = Policy::default().with_max_group_size(0);
    let e = match Engine::in_memory(EngineOptions::default().with_policy(policy)) {
        Err(e) => e,
        Ok(_) => panic!("a policy with max_group_size 0 is refused"),
    };
    let all = chain(&e);
    let told = all
        .iter()
        .map(|m| m.matches("max_group_size must be at least 1").count())
        .sum::<usize>();
    assert_eq!(told, 1, "{all:?}");
}
