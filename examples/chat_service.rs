//! A chat service embedding the engine: it stores receipts on sled in a directory, forwards
//! notifications to "connected devices" (printed here), and answers the queries its clients
//! make. Run: `cargo run --example chat_service [DIR]` (default: a temporary directory).

use receipt_engine::*;
use std::sync::Arc;
use uuid::Uuid;

struct ChatService {
    engine: Arc<Engine>,
}

impl ChatService {
    fn new(dir: &std::path::Path) -> Result<Self, EngineError> {
        let options = EngineOptions::default().with_policy(
            Policy::all_receipts_on().with_group_ack_visibility(AckVisibility::AllMembers),
        );
        let engine = Arc::new(Engine::open(dir, options)?);
        // Forward every notification to its addressee's devices, in log order, once durable.
        let (_, inbox) = engine.subscribe(4_096);
        std::thread::spawn(move || {
            for next in inbox {
                let p = match next {
                    Ok(p) => p,
                    // Fell 4,096 behind: a real service catches up with
                    // `notifications_since(o.resume_from)` and subscribes again.
                    Err(o) => {
                        println!("    fell behind; catch up from {}", o.resume_from);
                        return;
                    }
                };
                println!(
                    "    push #{:<3} to {:<6} {:?}",
                    p.position,
                    p.notification.to.as_str(),
                    p.notification.kind
                );
            }
        });
        Ok(Self { engine })
    }

    /// A client sent a message; returns its id.
    fn on_send(
        &self,
        conversation: &ConversationId,
        from: &UserId,
        needs_group_ack: bool,
    ) -> Result<MessageId, EngineError> {
        let id = MessageId(Uuid::now_v7());
        let out = if needs_group_ack {
            self.engine
                .send_message_requesting_group_acks(conversation, id, from)?
        } else {
            self.engine.send_message(conversation, id, from)?
        };
        if let Some(note) = out.note {
            println!("  note for {from}: {note}");
        }
        Ok(id)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| temp.path().to_path_buf());
    let service = ChatService::new(&dir)?;
    let e = &service.engine;
    let user = |s: &str| UserId::new(s).expect("valid id");
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));

    println!("direct chat: delivery, read and conversation receipts");
    let chat = ConversationId::direct(alice.clone(), bob.clone())?;
    let m1 = service.on_send(&chat, &alice, false)?;
    let m2 = service.on_send(&chat, &alice, false)?;
    e.deliver(m1, &bob)?; // bob's device received m1
    e.ack_conversation_read(&chat, &bob)?; // bob opened the chat
    println!("  alice sees m2: {:?}", e.message_status(&alice, m2)?);

    println!("group chat: read receipts with count and readers");
    let team = GroupId::new("team")?;
    let group = ConversationId::Group(team.clone());
    e.join_group(&team, &alice, Role::Owner)?;
    e.join_group(&team, &bob, Role::Member)?;
    e.join_group(&team, &carol, Role::Member)?;
    let g1 = service.on_send(&group, &alice, true)?;
    e.ack_group_message_read(g1, &bob)?;
    e.mark_message_read(g1, &carol)?; // carol reads privately: no receipt
    println!(
        "  ack count (carol may see it): {}",
        e.group_ack_count(&carol, g1)?
    );
    for r in e.fetch_group_acks(&alice, g1, None, 20)?.entries {
        println!("  reader {} at {} ms", r.reader, r.at_ms);
    }
    for u in [&alice, &bob, &carol] {
        println!("  {u}: badge {}", e.total_unread(u)?);
    }
    e.flush()?;
    std::thread::sleep(std::time::Duration::from_millis(50)); // let the forwarder print
    Ok(())
}
