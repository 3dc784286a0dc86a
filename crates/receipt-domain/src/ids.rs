//! Identifiers and their validation.
//!
//! Validation happens once, at the boundary: a `UserId` or `GroupId` that exists is valid, so the
//! rest of the crate never re-checks. New ids (`new`, `from_str`, and deserialization from any
//! format: a command in JSON, a request body) follow the current rules: 1 to 64 bytes of UTF-8 in
//! Unicode NFC, with no control characters, no format characters (zero-width characters, the
//! byte-order mark, bidi overrides) and no line or paragraph separators. Stored ids (`from_stored`,
//! and deserialization inside [`with_stored_rules`], which only the store's decoder calls) are
//! checked against the rules they were written under (schema 1: 1 to 64 bytes, no control
//! characters), so an old log stays readable; a stored byte sequence still cannot smuggle in an id
//! that was never valid.

use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::fmt;
use uuid::Uuid;

thread_local! {
    // Whether ids deserialized on this thread are stored ones. Off unless the store's decoder
    // turned it on: every other door (JSON commands, request bodies, a service's own format)
    // gets the rules for new ids without having to know that two rule sets exist.
    static STORED_RULES: Cell<bool> = const { Cell::new(false) };
}

/// Runs `decode` with ids deserialized under the rules they were stored with (see the module).
///
/// For the store's decoder only: what it decodes was valid when it was written, and an id
/// written under schema 1's rules must stay readable. Everything deserialized outside this call
/// is a new id and follows the current rules.
pub fn with_stored_rules<T>(decode: impl FnOnce() -> T) -> T {
    // Restores the previous setting however `decode` ends (a panic unwinding through it
    // included), so a nested call or a caught panic never leaves the stored rules on.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            STORED_RULES.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(STORED_RULES.with(|s| s.replace(true)));
    decode()
}

/// Longest accepted user or group id, in bytes (UTF-8).
pub const MAX_ID_BYTES: usize = 64;

/// Why an input was refused before any rule was looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidInput {
    /// The id is empty.
    #[error("{what} is empty")]
    Empty {
        /// Which kind of id.
        what: &'static str,
    },
    /// The id is longer than allowed.
    #[error("{what} is {len_bytes} bytes long; at most {MAX_ID_BYTES} are allowed")]
    TooLong {
        /// Which kind of id.
        what: &'static str,
        /// The length found, in bytes.
        len_bytes: usize,
    },
    /// The id holds a control character.
    #[error("{what} contains a control character at byte {at_byte}")]
    ControlCharacter {
        /// Which kind of id.
        what: &'static str,
        /// Byte offset of the offending character.
        at_byte: usize,
    },
    /// The id holds an invisible character (format, line or paragraph separator).
    #[error("{what} contains an invisible format character or separator (U+{code_point:04X}) at byte {at_byte}")]
    InvisibleCharacter {
        /// Which kind of id.
        what: &'static str,
        /// Byte offset of the offending character.
        at_byte: usize,
        /// The offending code point.
        code_point: u32,
    },
    /// The id is not in Unicode normalization form C.
    #[error("{what} is not in Unicode normalization form C (NFC); normalize it before use")]
    NotNfc {
        /// Which kind of id.
        what: &'static str,
    },
    /// A direct conversation needs two different users.
    #[error("a direct conversation needs two different users, got {user} twice")]
    SelfConversation {
        /// The user named twice.
        user: UserId,
    },
    /// The page size is zero or above the maximum.
    #[error("page size {page_size} is outside 1..={max}")]
    PageSize {
        /// The page size asked for.
        page_size: u32,
        /// The largest allowed.
        max: u32,
    },
    /// The cursor points past the list.
    #[error("cursor {cursor} is past the end of the reader list ({len} entries)")]
    Cursor {
        /// The cursor given.
        cursor: u32,
        /// How many entries there are.
        len: u32,
    },
    /// The policy is inconsistent.
    #[error("policy: {reason}")]
    Policy {
        /// What is wrong.
        reason: &'static str,
    },
    /// A conversation named as text is not `direct:USER+USER` or `group:GROUP`.
    #[error("conversation {text:?}: {reason}")]
    ConversationText {
        /// The text (at most its first 80 characters).
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The rules every stored id was written under (schema 1).
fn validate_stored(what: &'static str, s: &str) -> Result<(), InvalidInput> {
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

/// The rules for new ids: the stored rules, plus no invisible characters and NFC only. Two ids
/// that look the same must be the same bytes, or one user could read another's receipts under a
/// look-alike name. Non-NFC input is refused rather than normalized: normalizing would merge
/// two ids the embedding service keeps apart.
fn validate_new(what: &'static str, s: &str) -> Result<(), InvalidInput> {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    validate_stored(what, s)?;
    let invisible = s.char_indices().find(|(_, c)| {
        matches!(
            c.general_category(),
            GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
    });
    if let Some((at_byte, c)) = invisible {
        return Err(InvalidInput::InvisibleCharacter {
            what,
            at_byte,
            code_point: u32::from(c),
        });
    }
    if !unicode_normalization::is_nfc(s) {
        return Err(InvalidInput::NotNfc { what });
    }
    Ok(())
}

/// Deserializes a string borrowing from the input where the format allows (bincode does), so a
/// stored length claim larger than the bytes present fails before anything is allocated.
fn deserialize_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct Text;
    impl serde::de::Visitor<'_> for Text {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
    }
    d.deserialize_str(Text)
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps a caller-chosen id (the rules for new ids, see the module).
            pub fn new(s: impl Into<String>) -> Result<Self, InvalidInput> {
                let s = s.into();
                validate_new($what, &s)?;
                Ok(Self(s))
            }

            /// Wraps an id read from storage, checked against the rules it was written under.
            pub fn from_stored(s: impl Into<String>) -> Result<Self, InvalidInput> {
                let s = s.into();
                validate_stored($what, &s)?;
                Ok(Self(s))
            }

            /// The id as text.
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
                let s = deserialize_text(d)?;
                if STORED_RULES.with(Cell::get) {
                    Self::from_stored(s)
                } else {
                    Self::new(s)
                }
                .map_err(serde::de::Error::custom)
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
    /// Event 0 shares the command's id; a later one is the name-based (v5) UUID of its index in
    /// the command id's namespace. Pure and deterministic: deciding the same command twice names
    /// its events the same way.
    ///
    /// Why not `id + index`: clients number commands sequentially, and then command `n`'s second
    /// event would carry command `n + 1`'s first id, so a batch holding both (or a retry of
    /// `n + 1`) would confuse two commands. A hash never lands on a neighbour's id.
    pub fn event_id(self, index: u32) -> EventId {
        if index == 0 {
            return EventId(self.0);
        }
        EventId(Uuid::new_v5(&self.0, &index.to_le_bytes()))
    }
}

/// A conversation: the stream every event is appended to.
///
/// A direct conversation is the same whichever side names it: the pair is stored sorted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ConversationId {
    /// Single chat between exactly two different users, `low < high`.
    Direct {
        /// The participant whose id sorts first.
        low: UserId,
        /// The participant whose id sorts second.
        high: UserId,
    },
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

    /// The conversation of group `g`.
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

    /// Whether this is a group conversation.
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
#[serde(deny_unknown_fields)]
enum ConversationIdRepr {
    Direct { low: UserId, high: UserId },
    Group(GroupId),
}

impl std::str::FromStr for ConversationId {
    type Err = InvalidInput;
    /// The form `Display` writes (and `receipts export` and `inspect` print):
    /// `direct:USER+USER` (in either order) or `group:GROUP`, ids under the rules for new ids.
    /// A direct pair whose text holds more than one `+` is refused as ambiguous (user ids may
    /// contain `+`): name it as `{"Direct":{"low":..,"high":..}}` then.
    fn from_str(text: &str) -> Result<Self, InvalidInput> {
        conversation_from_text(text, |u: &str| UserId::new(u), |g: &str| GroupId::new(g))
    }
}

fn conversation_from_text(
    text: &str,
    user: impl Fn(&str) -> Result<UserId, InvalidInput>,
    group: impl Fn(&str) -> Result<GroupId, InvalidInput>,
) -> Result<ConversationId, InvalidInput> {
    let bad = |reason| InvalidInput::ConversationText {
        text: text.chars().take(80).collect(),
        reason,
    };
    if let Some(g) = text.strip_prefix("group:") {
        return Ok(ConversationId::Group(group(g)?));
    }
    let Some(pair) = text.strip_prefix("direct:") else {
        return Err(bad("expected direct:USER+USER or group:GROUP"));
    };
    let mut parts = pair.split('+');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(b), None) => ConversationId::direct(user(a)?, user(b)?),
        (_, None, _) => Err(bad("a direct conversation names two users: direct:USER+USER")),
        _ => Err(bad(
            "more than one '+': ambiguous, since user ids may contain '+'; use {\"Direct\":{\"low\":..,\"high\":..}}",
        )),
    }
}

impl<'de> Deserialize<'de> for ConversationId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // JSON (and other self-describing, human-readable formats) may name a conversation as
        // text too, the way `Display` writes it. Stored records are bincode, which is neither:
        // they keep the one encoding, read without `deserialize_any`.
        if d.is_human_readable() {
            return d.deserialize_any(ConversationVisitor);
        }
        ConversationId::from_repr(ConversationIdRepr::deserialize(d)?)
    }
}

/// The text or the map form of a conversation in a human-readable format.
struct ConversationVisitor;

impl<'de> serde::de::Visitor<'de> for ConversationVisitor {
    type Value = ConversationId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a conversation: \"direct:USER+USER\", \"group:GROUP\", {\"Direct\":{\"low\":..,\"high\":..}} or {\"Group\":..}")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ConversationId, E> {
        let stored = STORED_RULES.with(Cell::get);
        let user = |s: &str| {
            if stored {
                UserId::from_stored(s)
            } else {
                UserId::new(s)
            }
        };
        let group = |s: &str| {
            if stored {
                GroupId::from_stored(s)
            } else {
                GroupId::new(s)
            }
        };
        conversation_from_text(text, user, group).map_err(E::custom)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ConversationId, A::Error> {
        let repr =
            ConversationIdRepr::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        ConversationId::from_repr(repr)
    }
}

impl ConversationId {
    fn from_repr<E: serde::de::Error>(repr: ConversationIdRepr) -> Result<Self, E> {
        match repr {
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
    fn new_ids_refuse_invisible_characters_and_non_nfc_text() {
        for (text, code_point) in [
            ("a\u{200B}b", 0x200B),  // zero-width space
            ("\u{FEFF}ab", 0xFEFF),  // byte-order mark
            ("ab\u{202E}c", 0x202E), // right-to-left override
            ("a\u{2028}b", 0x2028),  // line separator
            ("a\u{2029}b", 0x2029),  // paragraph separator
        ] {
            assert!(
                matches!(
                    UserId::new(text),
                    Err(InvalidInput::InvisibleCharacter { code_point: c, .. }) if c == code_point
                ),
                "{code_point:04X}"
            );
        }
        // "é" as e + combining acute is NFD: refused, not silently merged with the NFC "é".
        assert_eq!(
            GroupId::new("caf\u{65}\u{301}"),
            Err(InvalidInput::NotNfc { what: "group id" })
        );
        assert!(GroupId::new("caf\u{e9}").is_ok());
    }

    #[test]
    fn stored_ids_keep_the_rules_they_were_written_under() {
        // Schema 1 accepted these; an old log holding them must stay readable.
        assert!(UserId::from_stored("a\u{200B}b").is_ok());
        assert!(UserId::from_stored("caf\u{65}\u{301}").is_ok());
        assert!(
            with_stored_rules(|| deserializes("a\u{200B}b")),
            "the store's decoding applies the stored rules"
        );
        assert!(!with_stored_rules(|| deserializes("a\u{7}b")));
        assert!(UserId::from_stored("a\nb").is_err());
        assert!(UserId::from_stored("").is_err());
    }

    #[test]
    fn deserialization_outside_the_store_applies_the_rules_for_new_ids() {
        // Every door that is not the store's decoder (JSON commands, request bodies) is a new id.
        for text in [
            "a\u{200B}b",
            "\u{202E}evad",
            "\u{FEFF}ab",
            "a\u{2028}b",
            "cafe\u{301}",
        ] {
            assert!(!deserializes(text), "{text:?}");
        }
        assert!(deserializes("caf\u{e9}"));
        // The stored rules end with the call, a nested one and a panic inside it included.
        with_stored_rules(|| with_stored_rules(|| ()));
        assert!(!deserializes("a\u{200B}b"));
        let caught = std::panic::catch_unwind(|| with_stored_rules(|| panic!("inside")));
        assert!(caught.is_err());
        assert!(!deserializes("a\u{200B}b"));
    }

    /// Whether `text` deserializes into a user id (serde's own borrowed-string deserializer).
    fn deserializes(text: &str) -> bool {
        use serde::de::value::{BorrowedStrDeserializer, Error};
        UserId::deserialize(BorrowedStrDeserializer::<Error>::new(text)).is_ok()
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
        assert_eq!(c.event_id(1), c.event_id(1));
        assert_ne!(c.event_id(1), c.event_id(2));
        // Sequentially numbered commands never share an event id.
        let ids: std::collections::HashSet<EventId> = (0..1000u128)
            .flat_map(|n| (0..4).map(move |i| CommandId(Uuid::from_u128(n)).event_id(i)))
            .collect();
        assert_eq!(ids.len(), 4000);
    }
}
