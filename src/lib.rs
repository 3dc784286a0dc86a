//! Receipt engine: message receipts (delivered, read, by whom) and unread counts for chat
//! backends, event-sourced.
//!
//! [`Engine`] is what a service embeds: commands are decided against the projections and the
//! policy ([`domain`]), appended atomically to a durable log ([`store`], sled by default),
//! folded into the projections and published as notifications.
//!
//! ```
//! use receipt_engine::*;
//! let engine = Engine::in_memory(EngineOptions::default().with_policy(Policy::all_receipts_on()))?;
//! let (alice, bob) = (UserId::new("alice")?, UserId::new("bob")?);
//! let chat = ConversationId::direct(alice.clone(), bob.clone())?;
//! let m = MessageId(uuid::Uuid::now_v7());
//! engine.send_message(&chat, m, &alice)?;
//! assert_eq!(engine.unread_count(&bob, &chat)?, 1);
//! let read = engine.ack_message_read(m, &bob)?;
//! assert_eq!(read.notifications[0].to, alice);
//! assert!(engine.message_status(&alice, m)?.has_read_ack);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

/// The engine for tokio services (feature `tokio`).
#[cfg(feature = "tokio")]
pub mod asynchronous;
mod engine;
mod error;
mod options;
mod projections;
mod publisher;
mod rebuild;
mod sdk;
mod user_stream;

pub use engine::{CheckpointReport, Engine, Outcome, PROGRESS_EVERY_EVENTS};
pub use error::EngineError;
pub use options::{
    Clock, EngineOptions, ManualClock, Progress, ProgressFn, SystemClock,
    DEFAULT_MEMORY_BUDGET_BYTES,
};
pub use projections::CacheStats;
pub use publisher::{Overflowed, Positioned};
pub use rebuild::{rebuild_checkpoints, RebuildReport};
pub use user_stream::{Subscription, UserNotifications};

// The README's example runs as a doctest, so it cannot drift from the API.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The `uuid` crate this library's ids are built on (message ids are caller-chosen UUIDs; v7
/// is recommended), re-exported so an embedding service needs no extra dependency.
pub use uuid;

pub use receipt_domain as domain;
pub use receipt_domain::*;
pub use receipt_store as store;
pub use receipt_store::Durability;
