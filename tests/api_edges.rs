//! The API's rough edges a user met writing against it (issue 25), each pinned: a message can
//! mention users and ask for group read receipts at once; a retried command's outcome carries
//! its original events; the badge is not always the sum of the conversation list, and says so
//! through its parts.

use receipt_engine::*;

fn id(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

fn engine() -> Engine<store::MemoryBackend> {
    Engine::in_memory(EngineOptions::default().with_policy(Policy::all_receipts_on())).unwrap()
}

#[test]
fn a_message_can_mention_users_and_ask_for_group_receipts_at_once() {
    let engine = engine();
    let (ann, bob, cat) = (id("ann"), id("bob"), id("cat"));
    let team = GroupId::new("team").unwrap();
    engine
        .create_group(&team, &ann, &[bob.clone(), cat.clone()])
        .unwrap();
    let group = ConversationId::Group(team);
    let m = MessageId(uuid::Uuid::now_v7());
    let sent = engine
        .send_message_mentioning_requesting_group_acks(
            &group,
            m,
            &ann,
            std::slice::from_ref(&bob),
            false,
        )
        .unwrap();
    assert_eq!(sent.note, None, "receipts requested and accepted");
    assert_eq!(engine.mention_count(&bob, &group).unwrap(), 1);
    assert_eq!(engine.mention_count(&cat, &group).unwrap(), 0);
    engine.ack_group_message_read(m, &bob).unwrap();
    let readers = engine.fetch_group_acks(&ann, m, None, 10).unwrap();
    assert_eq!(readers.entries.len(), 1, "the sender sees who read it");
    // Without the request, the same message has no reader list.
    let plain = MessageId(uuid::Uuid::now_v7());
    engine
        .send_message_mentioning(&group, plain, &ann, std::slice::from_ref(&bob), false)
        .unwrap();
    assert!(matches!(
        engine.fetch_group_acks(&ann, plain, None, 10),
        Err(EngineError::Query(QueryError::GroupAckNotRequested(_)))
    ));
}

#[test]
fn a_retried_command_answers_with_its_original_events() {
    let engine = engine();
    let (ann, bob) = (id("ann"), id("bob"));
    let chat = ConversationId::direct(ann.clone(), bob).unwrap();
    let command = Command {
        id: CommandId(uuid::Uuid::now_v7()),
        at_ms: 1,
        kind: CommandKind::SendMessage {
            conversation: chat,
            message: MessageId(uuid::Uuid::now_v7()),
            sender: ann,
            needs_group_ack: false,
        },
    };
    let first = engine.execute_command(command.clone()).unwrap();
    let again = engine.execute_command(command).unwrap();
    assert!(!first.repeated && again.repeated);
    assert_eq!(
        again.events, first.events,
        "the original events, not an empty list"
    );
    assert_eq!(again.first_position, first.first_position);
}

#[test]
fn the_badge_is_not_the_list_sum_under_a_mode_and_its_parts_say_why() {
    let engine = engine();
    let (ann, bob, cat) = (id("ann"), id("bob"), id("cat"));
    let muted = ConversationId::direct(ann.clone(), bob.clone()).unwrap();
    let loud = ConversationId::direct(cat.clone(), bob.clone()).unwrap();
    engine
        .send_message(&muted, MessageId(uuid::Uuid::now_v7()), &ann)
        .unwrap();
    engine
        .send_message(&loud, MessageId(uuid::Uuid::now_v7()), &cat)
        .unwrap();
    engine
        .set_notification_mode(&muted, &bob, NotificationMode::Muted)
        .unwrap();
    let listed: u64 = engine
        .conversations(&bob)
        .unwrap()
        .iter()
        .map(|c| u64::from(c.unread))
        .sum();
    assert_eq!(listed, 2, "each conversation keeps its own count");
    assert_eq!(
        engine.total_unread(&bob).unwrap(),
        1,
        "the muted one adds nothing"
    );
    assert_eq!(engine.badge(&bob).unwrap().unread, 1);
}
