//! The configurable rules (the SDK's `ChatOptions` and the group read-receipt feature settings).
//!
//! Policy is consulted only by `decide` and by visibility checks in queries. The fold never sees
//! it: events are facts, so changing the policy never rewrites history.

use crate::ids::InvalidInput;
use serde::{Deserialize, Serialize};

/// One day, in milliseconds.
pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Who may ask for group read receipts when sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum GroupAckRequesters {
    /// Every member.
    AllMembers,
    /// The owner and the admins.
    OwnerAndAdmins,
}

/// Who may see a group message's ack count and reader list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum AckVisibility {
    /// Only the sender.
    SenderOnly,
    /// The sender and every current member of the group.
    AllMembers,
}

/// Every rule of the spec's policy table; `Policy::default()` is the seed's defaults.
///
/// Non-exhaustive, so new rules can be added without breaking callers: start from
/// [`Policy::default`] or [`Policy::all_receipts_on`] and change what you need with the `with_`
/// methods.
///
/// ```
/// use receipt_domain::{AckVisibility, Policy};
/// let policy = Policy::all_receipts_on()
///     .with_max_group_size(500)
///     .with_group_ack_visibility(AckVisibility::AllMembers);
/// assert!(policy.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
// A policy file written before a setting existed still loads: missing settings take their
// defaults. A setting it does not know is refused, so a misspelled one never falls back to its
// default unnoticed. (Policies are read from JSON files, never stored in the log.)
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Direct-chat delivery receipts are recorded and reported to the sender.
    pub require_delivery_ack: bool,
    /// Read receipts (message, conversation and group) may be sent.
    pub require_read_ack: bool,
    /// The group read-receipt feature is switched on for the app.
    pub group_read_receipts: bool,
    /// Who may ask for group read receipts when sending.
    pub group_ack_requesters: GroupAckRequesters,
    /// A group ack for a message older than this is rejected.
    pub group_ack_validity_ms: u64,
    /// A message sent into a group with more members than this gets no group read receipts.
    pub max_group_size: u32,
    /// Who may see a group message's read-ack list.
    pub group_ack_visibility: AckVisibility,
    /// How long a message is retained; direct delivery and read acks past it are rejected.
    /// `None` means forever.
    pub message_retention_ms: Option<u64>,
    /// Most messages one batch read ack may name (the v5 SDK's
    /// `asyncSendMessageReadReceipts` takes 50).
    pub max_messages_per_ack: u32,
    /// Most users one bulk membership command may name (create a group with its roster, add or
    /// remove members).
    pub max_members_per_command: u32,
    /// How long after sending a sender may recall their message, in milliseconds (owners and
    /// admins of a group may recall any message at any time).
    pub recall_window_ms: u64,
    /// Most read acks one conversation holds for messages not sent yet.
    pub max_early_acks_per_conversation: u32,
    /// How long such an ack is held before it is dropped, in milliseconds.
    pub early_ack_ttl_ms: u64,
    /// Most read acks held for messages not sent yet in all conversations together (the
    /// engine drops expired ones everywhere before it refuses one for this bound).
    pub max_early_acks_total: u32,
    /// Whether unread thread replies count in the badge's unread total (`Badge::under`). Off
    /// by default, as Easemob does: they are reported apart (`Badge::thread_unread`).
    pub thread_unread_in_total: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            require_delivery_ack: false,
            require_read_ack: false,
            group_read_receipts: false,
            group_ack_requesters: GroupAckRequesters::AllMembers,
            group_ack_validity_ms: 3 * DAY_MS,
            max_group_size: 200,
            group_ack_visibility: AckVisibility::SenderOnly,
            message_retention_ms: None,
            max_messages_per_ack: 50,
            max_members_per_command: 500,
            recall_window_ms: 2 * 60 * 1000,
            max_early_acks_per_conversation: 100,
            early_ack_ttl_ms: 60 * 1000,
            max_early_acks_total: 10_000,
            thread_unread_in_total: false,
        }
    }
}

impl Policy {
    /// Everything switched on, other values at their defaults: convenient for tests and demos.
    pub fn all_receipts_on() -> Self {
        Self {
            require_delivery_ack: true,
            require_read_ack: true,
            group_read_receipts: true,
            ..Self::default()
        }
    }

    /// Refuses settings that cannot mean anything (a group size cap of zero would decline every
    /// group message; keep the feature switch for that).
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if self.max_group_size == 0 {
            return Err(InvalidInput::Policy {
                reason: "max_group_size must be at least 1",
            });
        }
        if self.max_messages_per_ack == 0 {
            return Err(InvalidInput::Policy {
                reason: "max_messages_per_ack must be at least 1",
            });
        }
        if self.max_members_per_command == 0 {
            return Err(InvalidInput::Policy {
                reason: "max_members_per_command must be at least 1",
            });
        }
        Ok(())
    }
}

impl Policy {
    /// With direct-chat delivery receipts on or off (`require_delivery_ack`).
    pub fn with_delivery_acks(mut self, on: bool) -> Self {
        self.require_delivery_ack = on;
        self
    }

    /// With read receipts on or off (`require_read_ack`).
    pub fn with_read_acks(mut self, on: bool) -> Self {
        self.require_read_ack = on;
        self
    }

    /// With the group read-receipt feature on or off.
    pub fn with_group_read_receipts(mut self, on: bool) -> Self {
        self.group_read_receipts = on;
        self
    }

    /// With who may ask for group read receipts.
    pub fn with_group_ack_requesters(mut self, who: GroupAckRequesters) -> Self {
        self.group_ack_requesters = who;
        self
    }

    /// With how long group acks are accepted after a message is sent, in milliseconds.
    pub fn with_group_ack_validity_ms(mut self, validity_ms: u64) -> Self {
        self.group_ack_validity_ms = validity_ms;
        self
    }

    /// With the largest group whose messages can carry group read receipts.
    pub fn with_max_group_size(mut self, max_group_size: u32) -> Self {
        self.max_group_size = max_group_size;
        self
    }

    /// With who may see a group message's read-ack count and list.
    pub fn with_group_ack_visibility(mut self, who: AckVisibility) -> Self {
        self.group_ack_visibility = who;
        self
    }

    /// With how long messages are retained, in milliseconds (`None`: forever).
    pub fn with_message_retention_ms(mut self, retention_ms: Option<u64>) -> Self {
        self.message_retention_ms = retention_ms;
        self
    }

    /// With the most messages one batch read ack may name.
    pub fn with_max_messages_per_ack(mut self, max_messages_per_ack: u32) -> Self {
        self.max_messages_per_ack = max_messages_per_ack;
        self
    }

    /// With the most read acks one conversation holds for messages not sent yet.
    pub fn with_max_early_acks_per_conversation(mut self, max: u32) -> Self {
        self.max_early_acks_per_conversation = max;
        self
    }

    /// With the most read acks held for messages not sent yet in all conversations together.
    pub fn with_max_early_acks_total(mut self, max: u32) -> Self {
        self.max_early_acks_total = max;
        self
    }

    /// With unread thread replies counted in the badge's unread total, or not.
    pub fn with_thread_unread_in_total(mut self, on: bool) -> Self {
        self.thread_unread_in_total = on;
        self
    }

    /// With how long a read ack for a message not sent yet is held, in milliseconds.
    pub fn with_early_ack_ttl_ms(mut self, ttl_ms: u64) -> Self {
        self.early_ack_ttl_ms = ttl_ms;
        self
    }

    /// With how long a sender may recall their message, in milliseconds.
    pub fn with_recall_window_ms(mut self, recall_window_ms: u64) -> Self {
        self.recall_window_ms = recall_window_ms;
        self
    }

    /// With the most users one bulk membership command may name.
    pub fn with_max_members_per_command(mut self, max_members_per_command: u32) -> Self {
        self.max_members_per_command = max_members_per_command;
        self
    }
}
