//! Identifiers and their validation.
//!
//! Validation happens once, at the boundary: a `UserId` or `GroupId` that exists is valid, so the
//! rest of the crate never re-checks. Deserialization goes through the same checks, so a stored
//! byte sequence cannot smuggle in an invalid id either.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// Longest accepted user or group id, in bytes (UTF-8).
pub const MAX_ID_BYTES: usize = 64;

/// Why an input was refused before any rule was looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidInput {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is {len_bytes} bytes long; at most {MAX_ID_BYTES} are allowed")]
    TooLong {
        what: &'static str,
        len_bytes: usize,
    },
    #[error("{what} contains a control character at byte {at_byte}")]
    ControlCharacter { what: &'static str, at_byte: usize },
    #[error("a direct conversation needs two different users, got {user} twice")]
    SelfConversation { user: UserId },
    #[error("page size {page_size} is outside 1..={max}")]
    PageSize { page_size: u32, max: u32 },
    #[error("cursor {cursor} is past the end of the reader list ({len} entries)")]
    Cursor { cursor: u32, len: u32 },
    #[error("policy: {reason}")]
    Policy { reason: &'static str },
}

fn validate(what: &'static str, s: &str) -> Result<(), InvalidInput> {
    if s.is_empty() {
        return Err(InvalidInput::Empty { what });
    }
    if s.len() > MAX_ID_BYTES {
        return Err(InvalidInput::TooLong {
            what,
            len_bytes: s.len(),
        });
    }
    if let Some((at_byte, _)) = s.char_indices().find(|(_, c)| c.is_control()) {
        return Err(InvalidInput::ControlCharacter { what, at_byte });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps a caller-chosen id.
            pub fn new(s: impl Into<String>) -> Result<Self, InvalidInput> {
                let s = s.into();
                validate($what, &s)?;
                Ok(Self(s))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidInput;
            fn from_str(s: &str) -> Result<Self, InvalidInput> {
                Self::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// A user, as the embedding service names it.
    UserId,
    "user id"
);
string_id!(
    /// A group, as the embedding service names it.
    GroupId,
    "group id"
);

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }
    };
}

uuid_id!(
    /// A message, chosen by the caller (UUID v7 recommended: time-ordered, unique without coordination).
    MessageId
);
uuid_id!(
    /// An event. Derived from the command id (see [`CommandId::event_id`]) so that a retried
    /// command produces the same event ids and the log can store it once.
    EventId
);
uuid_id!(
    /// A command, chosen by whoever issues it (the engine draws a fresh v7 UUID by default).
    CommandId
);

impl CommandId {
    /// The id of the `index`-th event a decision of this command produces.
    ///
    /// Event 0 shares the command's id; later ones add their index to the 128-bit value. Pure and
    /// deterministic: deciding the same command twice names its events the same way.
    pub fn event_id(self, index: u32) -> EventId {
        EventId(Uuid::from_u128(
            self.0.as_u128().wrapping_add(u128::from(index)),
        ))
    }
}

/// A conversation: the stream every event is appended to.
///
/// A direct conversation is the same whichever side names it: the pair is stored sorted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ConversationId {
    /// Single chat between exactly two different users, `low < high`.
    Direct { low: UserId, high: UserId },
    /// Group chat.
    Group(GroupId),
}

impl ConversationId {
    /// The direct conversation between `a` and `b`, in either order.
    pub fn direct(a: UserId, b: UserId) -> Result<Self, InvalidInput> {
        match a.cmp(&b) {
            std::cmp::Ordering::Less => Ok(Self::Direct { low: a, high: b }),
            std::cmp::Ordering::Greater => Ok(Self::Direct { low: b, high: a }),
            std::cmp::Ordering::Equal => Err(InvalidInput::SelfConversation { user: a }),
        }
    }

    pub fn group(g: GroupId) -> Self {
        Self::Group(g)
    }

    /// For a direct conversation, the other side of `user` (None if `user` is not in it or this is
    /// a group).
    pub fn peer_of(&self, user: &UserId) -> Option<&UserId> {
        match self {
            Self::Direct { low, high } if low == user => Some(high),
            Self::Direct { low, high } if high == user => Some(low),
            _ => None,
        }
    }

    pub fn is_group(&self) -> bool {
        matches!(self, Self::Group(_))
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Direct { low, high } => write!(f, "direct:{low}+{high}"),
            Self::Group(g) => write!(f, "group:{g}"),
        }
    }
}

/// The stored shape of a conversation id, checked on the way in like every other id.
#[derive(Deserialize)]
enum ConversationIdRepr {
    Direct { low: UserId, high: UserId },
    Group(GroupId),
}

impl<'de> Deserialize<'de> for ConversationId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match ConversationIdRepr::deserialize(d)? {
            ConversationIdRepr::Direct { low, high } => {
                if low < high {
                    Ok(Self::Direct { low, high })
                } else {
                    Err(serde::de::Error::custom(
                        "direct conversation pair is not sorted and distinct",
                    ))
                }
            }
            ConversationIdRepr::Group(g) => Ok(Self::Group(g)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_rejects_empty_long_and_control_characters() {
        assert_eq!(
            UserId::new(""),
            Err(InvalidInput::Empty { what: "user id" })
        );
        assert!(matches!(
            UserId::new("x".repeat(65)),
            Err(InvalidInput::TooLong { len_bytes: 65, .. })
        ));
        assert!(UserId::new("x".repeat(64)).is_ok());
        assert!(matches!(
            GroupId::new("a\nb"),
            Err(InvalidInput::ControlCharacter { at_byte: 1, .. })
        ));
        assert!(UserId::new("李雷").is_ok());
    }

    #[test]
    fn direct_conversation_is_the_same_whichever_side_names_it() {
        let a = UserId::new("alice").unwrap();
        let b = UserId::new("bob").unwrap();
        assert_eq!(
            ConversationId::direct(a.clone(), b.clone()).unwrap(),
            ConversationId::direct(b.clone(), a.clone()).unwrap()
        );
        assert!(matches!(
            ConversationId::direct(a.clone(), a),
            Err(InvalidInput::SelfConversation { .. })
        ));
    }

    #[test]
    fn event_ids_are_derived_deterministically_from_the_command() {
        let c = CommandId(Uuid::from_u128(41));
        assert_eq!(c.event_id(0), EventId(Uuid::from_u128(41)));
        assert_eq!(c.event_id(1), EventId(Uuid::from_u128(42)));
    }
}
