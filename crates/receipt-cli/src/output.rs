//! What a person reads: times, yes/no, plain-English reasons, and the exit-code convention.

use receipt_engine::{EngineError, InvalidInput, QueryError};
use std::error::Error;
use std::time::{Duration, UNIX_EPOCH};

/// Exit codes (documented in `receipts --help` and docs/engine.md).
pub mod exit {
    /// The store or the operation failed: damaged, in use, I/O, refused.
    pub const FAILED: u8 = 1;
    /// The command line was wrong: an unknown flag, a malformed uuid or id (clap uses 2 too).
    pub const USAGE: u8 = 2;
    /// What was asked about is not in the store: no store, unknown user, message or conversation.
    pub const NOT_FOUND: u8 = 3;
}

/// A command line that asks for something this command cannot do.
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Usage {}

/// Something the store does not know about.
#[derive(Debug)]
pub struct NotFound(pub String);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for NotFound {}

/// The exit code for an error, by the convention of [`exit`].
pub fn exit_code(e: &(dyn Error + 'static)) -> u8 {
    if let Some(code) = crate::exec::exit_code(e) {
        return code;
    }
    if e.is::<NotFound>() {
        return exit::NOT_FOUND;
    }
    if e.is::<InvalidInput>() || e.is::<Usage>() {
        return exit::USAGE;
    }
    match e.downcast_ref::<EngineError>() {
        Some(EngineError::InvalidInput(_))
        | Some(EngineError::Query(QueryError::InvalidInput(_))) => exit::USAGE,
        Some(EngineError::Query(QueryError::UnknownMessage(_))) => exit::NOT_FOUND,
        _ => exit::FAILED,
    }
}

/// Milliseconds since the Unix epoch as an RFC 3339 UTC time with milliseconds.
pub fn time(at_ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(at_ms)).to_string()
}

/// `Some(true)` / `Some(false)` / `None` as a person says it.
pub fn yes_no(value: Option<bool>, none: &str) -> String {
    match value {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => none.into(),
    }
}

/// A count with thousands separators: 157229 -> "157,229".
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What a rejection or a declined group-ack request means, for the demo's tallies.
pub fn explain(kind: &str) -> &'static str {
    match kind {
        "GroupTooLarge" => "the group had more members than max_group_size, so the message went out without group read receipts",
        "SenderNotPermitted" => "the sender may not ask for group read receipts (policy: owner and admins only)",
        "FeatureDisabled" | "GroupReadReceiptsDisabled" => "group read receipts are switched off",
        "ReadAcksDisabled" => "read receipts are switched off (require_read_ack)",
        "DeliveryAcksDisabled" => "delivery receipts are switched off (require_delivery_ack)",
        "NotARecipient" => "a read ack from a user who did not receive the message (joined after it, left before it, or its sender)",
        "NotAMember" => "the user is not a member of the group",
        "NotAParticipant" => "the user is not one of the direct chat's two users",
        "OwnMessage" => "a sender acknowledged their own message",
        "AckExpired" => "a group read ack after the validity window",
        "UnknownMessage" => "the message was never sent",
        "AlreadyMember" => "a join of a member who already has another role",
        "GroupAckNotRequested" => "a group read ack for a message sent without group read receipts",
        "AckBeforeSend" => "an ack stamped before its message was sent",
        _ => "see docs/semantics.md",
    }
}
