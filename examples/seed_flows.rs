//! Plays the seed guide's flows (direct delivery and read receipts, the conversation receipt,
//! group read receipts with count, reader list, cap and expiry) through the pure core and prints
//! what each user sees. Run: `cargo run --example seed_flows`.

use receipt_engine::domain::decide;
use receipt_engine::*;
use uuid::Uuid;

struct Demo {
    state: State,
    policy: Policy,
    now_ms: u64,
    next_id: u128,
}

impl Demo {
    fn run(&mut self, label: &str, kind: CommandKind) {
        self.next_id += 1;
        let command = Command {
            id: CommandId(Uuid::from_u128(self.next_id)),
            at_ms: self.now_ms,
            kind,
        };
        match decide(&self.state, &self.policy, &command) {
            Err(e) => println!("  {label}: rejected: {e}"),
            Ok(decision) => {
                let names: Vec<&str> = decision.events.iter().map(|e| e.body.kind_name()).collect();
                let note = decision.note.map(|n| format!(" ({n})")).unwrap_or_default();
                println!("  {label}: {names:?}{note}");
                for e in &decision.events {
                    self.state.apply(e);
                    for n in self.state.notifications_for(e) {
                        println!("      -> notify {}: {:?}", n.to, n.kind);
                    }
                }
            }
        }
    }
}

fn id(s: &str) -> UserId {
    UserId::new(s).expect("demo ids are valid")
}

fn message(n: u128) -> MessageId {
    MessageId(Uuid::from_u128(0xABC0_0000 + n))
}

fn main() {
    let mut d = Demo {
        state: State::new(),
        policy: Policy::all_receipts_on(),
        now_ms: 1_700_000_000_000,
        next_id: 0,
    };
    let (alice, bob) = (id("alice"), id("bob"));
    let chat = ConversationId::direct(alice.clone(), bob.clone()).expect("two users");

    println!("Direct chat, delivery and read receipts on:");
    for n in 1..=3 {
        d.run(
            &format!("alice sends m{n}"),
            CommandKind::SendMessage {
                conversation: chat.clone(),
                message: message(n),
                sender: alice.clone(),
                needs_group_ack: false,
            },
        );
    }
    d.run(
        "bob's device receives m1",
        CommandKind::Deliver {
            message: message(1),
            recipient: bob.clone(),
        },
    );
    d.run(
        "bob's device receives m1 again",
        CommandKind::Deliver {
            message: message(1),
            recipient: bob.clone(),
        },
    );
    println!(
        "  bob's unread in the chat: {}",
        d.state.unread_count(&bob, &chat)
    );
    d.run(
        "bob opens the chat (conversation ack)",
        CommandKind::AckConversationRead {
            conversation: chat.clone(),
            reader: bob.clone(),
        },
    );
    println!(
        "  bob's unread in the chat: {}",
        d.state.unread_count(&bob, &chat)
    );
    for n in 1..=3 {
        let s = d
            .state
            .message_status(&d.policy, &alice, &message(n))
            .expect("alice sent it");
        println!("  alice sees m{n}: {s:?}");
    }

    println!(
        "\nGroup chat with read receipts (cap {}):",
        d.policy.max_group_size
    );
    let team = GroupId::new("team").expect("valid");
    let group = ConversationId::Group(team.clone());
    for (name, role) in [
        ("alice", Role::Owner),
        ("bob", Role::Admin),
        ("carol", Role::Member),
        ("dave", Role::Member),
    ] {
        d.run(
            &format!("{name} joins"),
            CommandKind::JoinGroup {
                group: team.clone(),
                user: id(name),
                role,
            },
        );
    }
    d.run(
        "alice sends g1 with needGroupAck",
        CommandKind::SendMessage {
            conversation: group.clone(),
            message: message(10),
            sender: alice.clone(),
            needs_group_ack: true,
        },
    );
    for reader in ["bob", "carol", "bob"] {
        d.now_ms += 60_000;
        d.run(
            &format!("{reader} acks g1"),
            CommandKind::AckGroupMessageRead {
                message: message(10),
                reader: id(reader),
            },
        );
    }
    d.run(
        "alice acks her own g1",
        CommandKind::AckGroupMessageRead {
            message: message(10),
            reader: alice.clone(),
        },
    );
    println!(
        "  ack count seen by alice: {:?}",
        d.state.group_ack_count(&d.policy, &alice, &message(10))
    );
    println!(
        "  ack count asked by dave: {:?}",
        d.state
            .group_ack_count(&d.policy, &id("dave"), &message(10))
            .map_err(|e| e.to_string())
    );
    let page = d
        .state
        .fetch_group_acks(&d.policy, &alice, &message(10), None, 10)
        .expect("alice may see");
    for e in &page.entries {
        println!("  reader {} at {}", e.reader, e.at_ms);
    }
    d.now_ms += 3 * DAY_MS;
    d.run(
        "dave acks g1 three days later",
        CommandKind::AckGroupMessageRead {
            message: message(10),
            reader: id("dave"),
        },
    );

    println!("\nA group above the cap:");
    d.policy.max_group_size = 3;
    d.run(
        "alice sends g2 with needGroupAck",
        CommandKind::SendMessage {
            conversation: group.clone(),
            message: message(11),
            sender: alice.clone(),
            needs_group_ack: true,
        },
    );
    d.run(
        "dave marks g2 read privately",
        CommandKind::MarkMessageRead {
            message: message(11),
            reader: id("dave"),
        },
    );

    println!("\nWhat each user sees:");
    for name in ["alice", "bob", "carol", "dave"] {
        let u = id(name);
        let list: Vec<String> = d
            .state
            .conversations(&u)
            .iter()
            .map(|c| format!("{}={}", c.conversation, c.unread))
            .collect();
        println!(
            "  {name}: badge {} [{}]",
            d.state.total_unread(&u),
            list.join(", ")
        );
    }
}
