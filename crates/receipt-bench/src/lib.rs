//! The comparison behind `docs/benchmarks.md`: one seeded workload, decided once by the domain,
//! fed as the same events to four stores that answer the same queries:
//! - [`EngineVariant`]: this engine (the sled event log plus the in-memory fold);
//! - [`SqliteVariant`] with `counters: true`: the strong baseline a user would write instead
//!   (WAL, an append-only event table plus counter tables updated in the same transaction);
//! - [`SqliteVariant`] with `counters: false`: the naive baseline answering unread with
//!   `COUNT(*)` at read time;
//! - [`RawSledVariant`]: raw sled with one key per event, the floor.
//!
//! [`check_projections`] proves they agree before any timing is believed.

mod engine_variant;
mod raw_sled;
mod sqlite_variant;

pub use engine_variant::EngineVariant;
pub use raw_sled::RawSledVariant;
pub use sqlite_variant::{commit_on, open_connection, SqliteVariant};

use receipt_domain::{decide, ConversationId, Event, MessageId, State, UserId};
use receipt_workload::{Workload, WorkloadConfig};

pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A store under test.
pub trait Variant {
    fn name(&self) -> &'static str;
    /// Durably commits the events of several decisions as one transaction.
    fn commit(&mut self, decisions: &[Vec<Event>]) -> Result;
    /// Closes and reopens the store cold, until its projections answer queries.
    fn reopen(&mut self) -> Result;
    fn unread(&self, user: &UserId, conversation: &ConversationId) -> Result<u32>;
    fn group_ack_count(&self, message: &MessageId) -> Result<u32>;
    /// Bytes the store occupies on disk.
    fn disk_bytes(&self) -> u64;
}

/// A message's ack count in projections held in memory, as its sender (who may always see it)
/// sees it.
pub(crate) fn ack_count_in(state: &State, message: &MessageId) -> Result<u32> {
    let sender = state.message_sender(message).ok_or("unknown message")?;
    Ok(state.group_ack_count(&receipt_domain::Policy::all_receipts_on(), &sender, message)?)
}

/// The workload's accepted decisions (each a command's events), in order, and the state they
/// fold into: the reference every variant is checked against.
pub fn decided(config: &WorkloadConfig) -> (Vec<Vec<Event>>, State) {
    let policy = config.policy();
    let mut state = State::new();
    let mut decisions = Vec::new();
    for command in Workload::new(config.clone()) {
        if let Ok(d) = decide(&state, &policy, &command) {
            if !d.events.is_empty() {
                state.apply_decision(&d);
                decisions.push(d.events);
            }
        }
    }
    (decisions, state)
}

/// Every (user, conversation) pair with read state, and every group message with acks enabled.
pub fn query_sample(
    state: &State,
    decisions: &[Vec<Event>],
) -> (Vec<(UserId, ConversationId)>, Vec<MessageId>) {
    let pairs = state
        .users()
        .flat_map(|u| {
            state
                .conversations(u)
                .into_iter()
                .map(move |c| (u.clone(), c.conversation))
        })
        .collect();
    let messages = decisions
        .iter()
        .flatten()
        .filter_map(|e| match &e.body {
            receipt_domain::EventBody::MessageSent {
                message,
                group_ack: receipt_domain::GroupAck::Enabled,
                ..
            } => Some(*message),
            _ => None,
        })
        .collect();
    (pairs, messages)
}

/// Checks that `variant` answers every sampled query like the reference state.
pub fn check_projections(variant: &dyn Variant, state: &State, decisions: &[Vec<Event>]) -> Result {
    check_projections_sampled(variant, state, decisions, usize::MAX)
}

/// Like [`check_projections`], on at most `max_pairs` evenly spaced (user, conversation) pairs:
/// for a variant whose every query is a scan (`COUNT(*)`), on a large workload.
pub fn check_projections_sampled(
    variant: &dyn Variant,
    state: &State,
    decisions: &[Vec<Event>],
    max_pairs: usize,
) -> Result {
    let (pairs, messages) = query_sample(state, decisions);
    let step = pairs.len().div_ceil(max_pairs.max(1)).max(1);
    for (u, c) in pairs.iter().step_by(step) {
        let (got, want) = (variant.unread(u, c)?, state.unread_count(u, c));
        if got != want {
            return Err(format!(
                "{}: unread of {u} in {c} is {got}, the engine says {want}",
                variant.name()
            )
            .into());
        }
    }
    let policy = receipt_domain::Policy::all_receipts_on();
    for m in &messages {
        let sender = state.message_sender(m).ok_or("message without a sender")?;
        let want = state.group_ack_count(&policy, &sender, m)?;
        let got = variant.group_ack_count(m)?;
        if got != want {
            return Err(format!(
                "{}: ack count of {m} is {got}, the engine says {want}",
                variant.name()
            )
            .into());
        }
    }
    Ok(())
}
