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

/// The pure core (deciding commands, folding events), for what the engine does not wrap:
/// `domain::decide`, `domain::HeldEarlyAcks`, the stored-id rules.
pub use receipt_domain as domain;
// The domain's types an embedding service names (ids, commands, events, policy, answers);
// the pure core's own tools stay under `domain::` so `use receipt_engine::*` brings only these.
pub use receipt_domain::{
    AckCursor, AckVisibility, Badge, Command, CommandId, CommandKind, ConversationHeader,
    ConversationId, ConversationSummary, ConversationUnread, DomainError, EarlyAckDropReason,
    Event, EventBody, EventId, GroupAck, GroupAckDeclined, GroupAckEntry, GroupAckPage,
    GroupAckRequesters, GroupId, InvalidInput, MemberCursor, MessageId, MessageStatus, Note,
    Notification, NotificationKind, NotificationMode, ParticipantSummary, Policy, QueryError,
    ReaderSummary, Role, State, ThreadUnread, UnreadMembersPage, UserId, DAY_MS, MAX_ACK_PAGE_SIZE,
    MAX_ID_BYTES,
};
/// The storage crate: the log, its backends and their errors.
pub use receipt_store as store;
pub use receipt_store::Durability;

/// What most services need, in one `use receipt_engine::prelude::*` (16 names; the crate root
/// has every public type, and the pure core's tools are under [`domain`]).
///
/// ```
/// use receipt_engine::prelude::*;
/// let engine = Engine::in_memory(EngineOptions::default())?;
/// let (ann, bob) = (UserId::new("ann")?, UserId::new("bob")?);
/// let chat = ConversationId::direct(ann.clone(), bob.clone())?;
/// let (_, mut live) = engine.subscribe(100);
/// engine.send_message(&chat, MessageId(Uuid::now_v7()), &ann)?;
/// assert_eq!(engine.unread_count(&bob, &chat)?, 1);
/// assert!(live.try_iter().all(|n| n.is_ok()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub mod prelude {
    pub use crate::{
        CommandId, CommandKind, ConversationId, Durability, Engine, EngineError, EngineOptions,
        GroupId, MessageId, Outcome, Overflowed, Policy, Positioned, Subscription, UserId,
    };
    pub use uuid::Uuid;
}
