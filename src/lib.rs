//! Receipt engine: message receipts (delivered, read, by whom) and unread counts for chat
//! backends, event-sourced.
//!
//! This facade re-exports the pure domain core ([`receipt_domain`]): commands are decided into
//! events, events are folded into projections, queries read them. The durable log and the
//! `Engine` a service embeds are built on top of it (see `docs/ARCHITECTURE.md`).

// The README's example runs as a doctest, so it cannot drift from the API.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub use receipt_domain as domain;
pub use receipt_domain::*;
pub use receipt_store as store;
