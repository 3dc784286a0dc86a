//! A conversation can be named the way `Display` writes it (and `receipts export` and
//! `inspect` print it): `direct:USER+USER` or `group:GROUP`, through `FromStr` and in JSON
//! (commands for `receipts exec`, the HTTP example), beside the map form. Ids follow the rules
//! for new ids; a pair with more than one `+` is refused as ambiguous.

use proptest::prelude::*;
use receipt_engine::*;

fn user(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

#[test]
fn the_text_form_parses_in_either_order_and_equals_the_map_form() {
    let chat = ConversationId::direct(user("ann"), user("bob")).unwrap();
    assert_eq!("direct:ann+bob".parse::<ConversationId>().unwrap(), chat);
    assert_eq!("direct:bob+ann".parse::<ConversationId>().unwrap(), chat);
    let team = ConversationId::Group(GroupId::new("team").unwrap());
    assert_eq!("group:team".parse::<ConversationId>().unwrap(), team);
    let from_text: ConversationId = serde_json::from_str("\"direct:bob+ann\"").unwrap();
    let from_map: ConversationId =
        serde_json::from_str(r#"{"Direct":{"low":"ann","high":"bob"}}"#).unwrap();
    assert_eq!(from_text, chat);
    assert_eq!(from_map, chat);
    let group: ConversationId = serde_json::from_str("\"group:team\"").unwrap();
    assert_eq!(group, team);
    // Serialized as before (the map form), so every reader of JSON written before still reads.
    assert_eq!(
        serde_json::to_string(&chat).unwrap(),
        r#"{"Direct":{"low":"ann","high":"bob"}}"#
    );
}

#[test]
fn bad_text_is_refused_with_its_reason() {
    let reason = |text: &str| text.parse::<ConversationId>().unwrap_err();
    assert!(matches!(
        reason("direct:ann+ann"),
        InvalidInput::SelfConversation { .. }
    ));
    assert!(matches!(
        reason("direct:a+b+c"),
        InvalidInput::ConversationText { .. }
    ));
    assert!(matches!(
        reason("direct:ann"),
        InvalidInput::ConversationText { .. }
    ));
    assert!(matches!(
        reason("dm:ann+bob"),
        InvalidInput::ConversationText { .. }
    ));
    assert!(matches!(reason("group:"), InvalidInput::Empty { .. }));
    assert!(matches!(
        reason("direct:ann\u{200b}+bob"),
        InvalidInput::InvisibleCharacter { .. }
    ));
    let json = serde_json::from_str::<ConversationId>("\"direct:a+b+c\"").unwrap_err();
    assert!(json.to_string().contains("ambiguous"), "{json}");
    let unsorted =
        serde_json::from_str::<ConversationId>(r#"{"Direct":{"low":"bob","high":"ann"}}"#);
    assert!(unsorted.is_err(), "the map form keeps its sorted-pair rule");
}

proptest! {
    #[test]
    fn display_and_from_str_round_trip(a in "[a-z0-9_.@-]{1,20}", b in "[a-z0-9_.@-]{1,20}", g in "[^+\\p{C}\\p{Z}]{1,20}") {
        prop_assume!(a != b);
        let chat = ConversationId::direct(user(&a), user(&b)).unwrap();
        prop_assert_eq!(chat.to_string().parse::<ConversationId>().unwrap(), chat);
        if let Ok(group) = GroupId::new(g) {
            let c = ConversationId::Group(group);
            prop_assert_eq!(c.to_string().parse::<ConversationId>().unwrap(), c);
        }
    }
}
