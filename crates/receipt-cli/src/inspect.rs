//! `receipts inspect`: what the engine knows about a user, a message or a conversation.

use crate::output::{time, yes_no, NotFound};
use crate::Result;
use clap::Subcommand;
use receipt_engine::*;
use std::path::Path;

#[derive(Subcommand)]
pub enum What {
    /// A user's conversations with unread counts, and the badge.
    User {
        /// The user id, as the embedding service names it.
        id: String,
    },
    /// A message's receipt status as a viewer sees it (and its readers, if visible).
    Message {
        /// The message id (a UUID).
        id: uuid::Uuid,
        /// The user looking at the message: what a user may see depends on who they are.
        #[arg(long = "as")]
        viewer: String,
    },
    /// A conversation's participants with their unread counts.
    Conversation {
        #[command(subcommand)]
        which: Which,
    },
}

#[derive(Subcommand)]
pub enum Which {
    /// The direct chat between two users (in either order).
    Direct {
        /// One user.
        a: String,
        /// The other user.
        b: String,
    },
    /// A group chat.
    Group {
        /// The group id.
        id: String,
    },
}

fn print<T: serde::Serialize>(json: bool, value: &T, table: impl FnOnce()) -> Result {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        table();
    }
    Ok(())
}

pub fn run(db: &Path, json: bool, what: What) -> Result {
    crate::existing_store(db)?;
    // Read-only (nothing written) unless the store needs a recovery first (a crash, an older
    // layout, checkpoints to rebuild): then it opens as a writer would.
    let engine = match Engine::open_read_only(db, EngineOptions::default()) {
        Err(EngineError::Store(store::StoreError::NeedsRecovery { reason, .. })) => {
            tracing::info!(%reason, "recovering the store before answering");
            Engine::open(db, EngineOptions::default())?
        }
        opened => opened?,
    };
    answer(&engine, json, what)
}

/// `receipts --nats URL inspect`: the same answers from the Engine on JetStream (it takes every
/// partition's lease while it runs, so run it when no engine process owns them).
pub fn run_nats(url: &str, prefix: &str, json: bool, what: What) -> Result {
    let engine = crate::nats::open_engine(url, prefix, Policy::default(), false)?;
    answer(&engine, json, what)
}

fn answer<B: store::Backend>(engine: &Engine<B>, json: bool, what: What) -> Result {
    match what {
        What::User { id } => {
            let user = UserId::new(id)?;
            // An operator asking about one user wants a typo told apart from a user with
            // nothing unread: the library's `knows_user`, as an exit code (3).
            if !engine.knows_user(&user)? {
                return Err(NotFound(format!(
                    "unknown user {user}: nothing was ever recorded for them in this store"
                ))
                .into());
            }
            let convs = engine.conversations(&user)?;
            let badge = engine.total_unread(&user)?;
            // Conversations as the same `direct:a+b` / `group:g` strings the tables print.
            let listed: Vec<serde_json::Value> = convs
                .iter()
                .map(|c| serde_json::json!({ "conversation": c.conversation.to_string(), "unread": c.unread }))
                .collect();
            let value =
                serde_json::json!({ "user": user, "badge": badge, "conversations": listed });
            print(json, &value, || {
                println!("{user}: badge {badge}");
                println!("{:<40} {:>7}", "conversation", "unread");
                for c in &convs {
                    println!("{:<40} {:>7}", c.conversation.to_string(), c.unread);
                }
            })
        }
        What::Message { id, viewer } => {
            let viewer = UserId::new(viewer)?;
            let message = MessageId(id);
            let status = engine.message_status(&viewer, message)?;
            let readers = engine
                .fetch_group_acks(&viewer, message, None, MAX_ACK_PAGE_SIZE)
                .ok();
            let not_read_by = engine
                .fetch_group_unread_members(&viewer, message, None, MAX_ACK_PAGE_SIZE)
                .ok();
            let value = serde_json::json!({ "message": message, "viewer": viewer, "status": status, "readers": readers, "not_read_by": not_read_by });
            print(json, &value, || {
                println!("message {message} as seen by {viewer}");
                println!(
                    "  has_deliver_ack  {}",
                    yes_no(
                        status.has_deliver_ack,
                        "n/a (group chats have no delivery receipts)"
                    )
                );
                println!(
                    "  has_read_ack     {}",
                    yes_no(Some(status.has_read_ack), "")
                );
                println!("  has_read         {}", yes_no(Some(status.has_read), ""));
                if status.recalled {
                    println!("  recalled         yes (it counts in nobody's unread; its readers are gone)");
                }
                println!(
                    "  group_ack_count  {}",
                    status.group_ack_count.map_or_else(
                        || "n/a (a direct message, no receipts requested, or not visible to this viewer)".to_string(),
                        |n| n.to_string()
                    )
                );
                if let Some(at_ms) = status.read_acked_at_ms {
                    println!("  read_acked_at    {}", time(at_ms));
                }
                for e in readers.iter().flat_map(|p| &p.entries) {
                    println!("  reader {:<12} at {}", e.reader.as_str(), time(e.at_ms));
                }
                for u in not_read_by.iter().flat_map(|p| &p.members) {
                    println!("  not read by {}", u.as_str());
                }
            })
        }
        What::Conversation { which } => {
            let conversation = match which {
                Which::Direct { a, b } => ConversationId::direct(UserId::new(a)?, UserId::new(b)?)?,
                Which::Group { id } => ConversationId::Group(GroupId::new(id)?),
            };
            let summary = engine
                .with_partition(&conversation, |s, _| s.conversation_summary(&conversation))?
                .ok_or_else(|| NotFound(format!("nothing has happened in {conversation}")))?;
            let mut value = serde_json::to_value(&summary)?;
            value["conversation"] = serde_json::Value::String(summary.conversation.to_string());
            print(json, &value, || {
                println!(
                    "{}: {} messages, {} members",
                    summary.conversation, summary.messages, summary.members
                );
                println!(
                    "{:<20} {:>7} {:>8} {:>8}",
                    "participant", "unread", "current", "role"
                );
                for p in &summary.participants {
                    let role = p
                        .role
                        .map(|r| format!("{r:?}").to_lowercase())
                        .unwrap_or_else(|| "-".into());
                    println!(
                        "{:<20} {:>7} {:>8} {:>8}",
                        p.user.as_str(),
                        p.unread,
                        yes_no(Some(p.current), ""),
                        role
                    );
                }
            })
        }
    }
}
