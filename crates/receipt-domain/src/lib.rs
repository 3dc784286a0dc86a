//! The pure domain core of the receipt engine.
//!
//! Commands are decided into events ([`decide`]), events are folded into projections
//! ([`State::apply`]), queries read the projections, and notifications are derived from each
//! event ([`State::notifications_for`]). No I/O, no clock, no threads, no randomness: everything
//! here is a function of its arguments, which is what makes replay exact.
//!
//! ```
//! use receipt_domain::*;
//! let alice = UserId::new("alice").unwrap();
//! let bob = UserId::new("bob").unwrap();
//! let chat = ConversationId::direct(alice.clone(), bob.clone()).unwrap();
//! let policy = Policy::all_receipts_on();
//! let mut state = State::new();
//! let send = Command {
//!     id: CommandId(uuid::Uuid::from_u128(1)),
//!     at_ms: 1_000,
//!     kind: CommandKind::SendMessage {
//!         conversation: chat.clone(),
//!         message: MessageId(uuid::Uuid::from_u128(7)),
//!         sender: alice.clone(),
//!         needs_group_ack: false,
//!     },
//! };
//! let decision = decide(&state, &policy, &send).unwrap();
//! state.apply_decision(&decision);
//! assert_eq!(state.unread_count(&bob, &chat), 1);
//! assert_eq!(state.total_unread(&alice), 0);
//! ```

#![warn(missing_docs)]

pub mod bounded_serde;
mod command;
mod decide;
mod early_ack;
mod error;
mod event;
mod fold;
mod held_acks;
mod ids;
mod invariants;
mod mention;
mod notify;
mod partition;
mod policy;
mod query;
mod query_lists;
mod read_up_to;
mod recall;
mod state;
mod thread;

pub use command::{Command, CommandKind};
pub use decide::{decide, decide_in_store, Decision, Note};
pub use error::{DomainError, QueryError};
pub use event::{
    EarlyAckDropReason, Event, EventBody, GroupAck, GroupAckDeclined, NotificationMode, Role,
};
pub use held_acks::HeldEarlyAcks;
pub use ids::{
    with_stored_rules, CommandId, ConversationId, EventId, GroupId, InvalidInput, MessageId,
    UserId, MAX_ID_BYTES,
};
pub use invariants::InvariantViolation;
pub use notify::{Notification, NotificationKind};
pub use partition::{ConversationHeader, ReaderSummary};
pub use policy::{AckVisibility, GroupAckRequesters, Policy, DAY_MS};
pub use query::{
    order_conversation_list, AckCursor, Badge, ConversationSummary, ConversationUnread,
    GroupAckEntry, GroupAckPage, MessageStatus, ParticipantSummary, MAX_ACK_PAGE_SIZE,
};
pub use query_lists::{MemberCursor, UnreadMembersPage};
pub use state::State;
pub use thread::ThreadUnread;

impl State {
    /// Folds every event of a decision, in order.
    pub fn apply_decision(&mut self, decision: &Decision) {
        for e in &decision.events {
            self.apply(e);
        }
    }

    /// Rebuilds the projections from a history of events.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut s = Self::new();
        for e in events {
            s.apply(e);
        }
        s
    }
}
