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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        Ok(())
    }
}
