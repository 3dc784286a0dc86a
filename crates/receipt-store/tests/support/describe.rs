//! A plain-text description of projections through the public queries only: what the golden
//! fixture's expected answers are written in, so any later state layout can be compared.

use receipt_domain::*;
use std::fmt::Write;
use uuid::Uuid;

pub const USERS: [&str; 6] = ["ann", "bob", "cat", "dan", "eve", "fay"];

pub fn describe(state: &State, policy: &Policy, messages: u128) -> String {
    let mut out = String::new();
    for name in USERS {
        let u = UserId::new(name).expect("valid");
        let _ = writeln!(out, "user {name} badge {}", state.total_unread(&u));
        for c in state.conversations(&u) {
            let _ = writeln!(out, "  {} unread {}", c.conversation, c.unread);
        }
    }
    for m in 1..=messages {
        let id = MessageId(Uuid::from_u128(m));
        for name in USERS {
            let u = UserId::new(name).expect("valid");
            if let Ok(s) = state.message_status(policy, &u, &id) {
                let _ = writeln!(
                    out,
                    "message {m} for {name}: deliver {:?} read_ack {} read {} count {:?}",
                    s.has_deliver_ack, s.has_read_ack, s.has_read, s.group_ack_count
                );
            }
            if let Ok(page) = state.fetch_group_acks(policy, &u, &id, None, MAX_ACK_PAGE_SIZE) {
                let readers: Vec<String> = page
                    .entries
                    .iter()
                    .map(|e| format!("{}@{}", e.reader, e.at_ms))
                    .collect();
                let _ = writeln!(out, "message {m} readers for {name}: {}", readers.join(" "));
            }
        }
    }
    out
}
