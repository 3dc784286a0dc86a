//! The JSON command door of `exec`, fuzzed: every id arriving as JSON follows the rules for new
//! ids, a refusal names the field and the rule, and no input panics.

use super::{BadReason, Line};
use proptest::prelude::*;
use receipt_engine::{CommandKind, GroupId, UserId};
use serde_json::json;

/// Characters an adversary reaches for, beside any `char` at all: zero-width and bidi
/// controls, the BOM, separators, combining marks, controls, look-alikes, astral text.
fn adversarial_char() -> impl Strategy<Value = char> {
    prop_oneof![
        Just('\u{200B}'),
        Just('\u{200D}'),
        Just('\u{202E}'),
        Just('\u{2066}'),
        Just('\u{FEFF}'),
        Just('\u{2028}'),
        Just('\u{2029}'),
        Just('\u{301}'),
        Just('\u{0}'),
        Just('\u{7}'),
        Just('\u{85}'),
        Just('а'), // Cyrillic a
        Just('é'),
        Just('😀'),
        Just('"'),
        Just('\\'),
        proptest::char::range('a', 'e'),
        any::<char>(),
    ]
}

fn id_text() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(adversarial_char(), 0..6).prop_map(|v| v.into_iter().collect()),
        // Past the length limit, mostly plain.
        (60usize..70).prop_map(|n| "x".repeat(n)),
    ]
}

fn reason_of(text: &str) -> Result<(), BadReason> {
    Line::parse(text).map(|_| ())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A `CreateGroup` line parses exactly when every id in it is a valid new id; otherwise the
    /// refusal names the first invalid id's field and says the rule it broke, as the API does.
    #[test]
    fn ids_in_json_follow_the_rules_for_new_ids(
        group in id_text(),
        owner in id_text(),
        members in proptest::collection::vec(id_text(), 0..4),
        whole in any::<bool>(),
    ) {
        let kind = json!({"CreateGroup": {"group": group, "owner": owner, "members": members}});
        let (line, prefix) = if whole {
            (json!({"id": "0190a000-0000-7000-8000-000000000001", "at_ms": 5, "kind": kind}), "kind.")
        } else {
            (kind, "")
        };
        // serde_json writes an object's keys in sorted order (group, members, owner), and the
        // first invalid id in the text is the one reported.
        let first_error = GroupId::new(group.as_str())
            .err()
            .map(|e| ("CreateGroup.group".to_string(), e.to_string()))
            .or_else(|| members.iter().enumerate().find_map(|(i, m)| {
                UserId::new(m.as_str()).err().map(|e| (format!("CreateGroup.members[{i}]"), e.to_string()))
            }))
            .or_else(|| UserId::new(owner.as_str()).err().map(|e| ("CreateGroup.owner".into(), e.to_string())));
        match (reason_of(&line.to_string()), first_error) {
            (Ok(()), None) => {}
            (Err(why), Some((field, reason))) => {
                prop_assert_eq!(why.field, Some(format!("{prefix}{field}")));
                prop_assert_eq!(why.reason, reason);
            }
            (got, expected) => prop_assert!(false, "parse {:?}, expected error {:?}", got.err(), expected),
        }
    }

    /// Any JSON at all (nested, mistyped, with unknown keys) is refused with a reason or parsed
    /// into a command that serializes back to the same value: never a panic, never a guess.
    #[test]
    fn any_json_is_a_command_or_a_reason(value in json_value()) {
        let text = value.to_string();
        match Line::parse(&text) {
            Ok(Line::Kind(k)) => prop_assert_eq!(serde_json::to_value(&k).unwrap(), value),
            Ok(Line::Command(c)) => prop_assert_eq!(serde_json::to_value(&c).unwrap(), value),
            Err(why) => prop_assert!(!why.reason.is_empty()),
        }
    }

    /// Arbitrary bytes as a line: refused with a reason, never a panic.
    #[test]
    fn any_text_is_a_command_or_a_reason(text in ".{0,64}") {
        if let Err(why) = Line::parse(&text) {
            prop_assert!(!why.reason.is_empty());
        }
    }
}

/// JSON values shaped like commands often enough to reach the field-level checks: known kind
/// names and field names among random ones, at random depth.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let key = prop_oneof![
        Just("CreateGroup".to_string()),
        Just("JoinGroup".to_string()),
        Just("group".to_string()),
        Just("user".to_string()),
        Just("role".to_string()),
        Just("members".to_string()),
        Just("owner".to_string()),
        Just("kind".to_string()),
        Just("id".to_string()),
        Just("at_ms".to_string()),
        "[a-z_]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        Just(json!("Member")),
        Just(json!("team")),
        Just(json!("0190a000-0000-7000-8000-000000000001")),
        id_text().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(key.clone(), inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn unknown_fields_are_refused_by_name() {
    let why =
        reason_of(r#"{"JoinGroup":{"group":"team","user":"dan","role":"Member","rol":"Admin"}}"#)
            .unwrap_err();
    assert_eq!(why.field.as_deref(), Some("JoinGroup.rol"));
    assert!(why.reason.contains("unknown field `rol`"), "{}", why.reason);
    let why = reason_of(
        r#"{"id":"0190a000-0000-7000-8000-000000000001","at_ms":1,"kind":{"LeaveGroup":{"group":"t","user":"u"}},"retry":true}"#,
    )
    .unwrap_err();
    assert_eq!(why.field.as_deref(), Some("retry"));
    let why = reason_of(r#"{"Direct":{"low":"a","high":"b","x":1}}"#).unwrap_err();
    assert!(
        why.reason.contains("unknown variant `Direct`"),
        "{}",
        why.reason
    );
}

#[test]
fn the_issue_s_look_alike_members_are_refused_at_the_first_one() {
    let why = reason_of(
        r#"{"CreateGroup":{"group":"team","owner":"ann","members":["bob","bob\u200b","\u202eevad","cafe\u0301","caf\u00e9"]}}"#,
    )
    .unwrap_err();
    assert_eq!(why.field.as_deref(), Some("CreateGroup.members[1]"));
    assert!(why.reason.contains("U+200B"), "{}", why.reason);
    let parsed = Line::parse(
        r#"{"CreateGroup":{"group":"team","owner":"ann","members":["bob","caf\u00e9"]}}"#,
    );
    assert!(matches!(
        parsed,
        Ok(Line::Kind(CommandKind::CreateGroup { .. }))
    ));
}

#[test]
fn deep_nesting_is_refused_without_exhausting_the_stack() {
    let text = "[".repeat(100_000);
    let why = reason_of(&text).unwrap_err();
    assert!(why.reason.contains("recursion limit"), "{}", why.reason);
}

#[test]
fn a_line_longer_than_the_limit_is_refused_after_reading_no_more_than_the_limit() {
    let mut input = std::io::Cursor::new(vec![b'x'; super::MAX_LINE_BYTES * 3]);
    let mut buf = Vec::new();
    let err = super::read_line(&mut input, &mut buf, 1).unwrap_err();
    assert!(
        err.to_string().contains("longer than 1048576 bytes"),
        "{err}"
    );
    assert_eq!(input.position() as usize, super::MAX_LINE_BYTES + 1);
    // A line exactly at the limit is read whole, without its newline.
    let mut text = vec![b'y'; super::MAX_LINE_BYTES];
    text.push(b'\n');
    let mut input = std::io::Cursor::new(text);
    assert!(super::read_line(&mut input, &mut buf, 1).unwrap());
    assert_eq!(buf.len(), super::MAX_LINE_BYTES);
    assert!(!super::read_line(&mut input, &mut buf, 2).unwrap());
}
