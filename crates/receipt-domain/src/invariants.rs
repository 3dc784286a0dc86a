//! Structural invariants of the state. `decide` + `apply` keep them; a state decoded from bytes
//! (a snapshot) is checked against them before it is trusted, so that no stored byte sequence can
//! make a later query index out of bounds.

use crate::ids::ConversationId;
use crate::state::{State, FLAG_GROUP_ACK, FLAG_READ_ACKED, FLAG_RECALLED};

/// A broken invariant, described for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state invariant broken: {0}")]
pub struct InvariantViolation(pub String);

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(InvariantViolation(format!($($fmt)+)));
        }
    };
}

impl State {
    /// Checks every index is in range and every counter agrees with what it summarises.
    /// O(size of the state): for tests and for validating a decoded snapshot, not the hot path.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        let users = self.users.len();
        let convs = self.conversations.len();
        ensure!(self.user_index.len() == users, "user index size");
        for (id, &u) in &self.user_index {
            ensure!(
                self.users.get(u as usize).is_some_and(|e| &e.id == id),
                "user index entry {id}"
            );
        }
        ensure!(
            self.group_index.len() + self.direct_index.len() == convs,
            "conversation index size"
        );
        for (g, &c) in &self.group_index {
            ensure!(
                self.conversations
                    .get(c as usize)
                    .is_some_and(|e| e.id == ConversationId::Group(g.clone())),
                "group index entry {g}"
            );
        }
        for (&(l, h), &c) in &self.direct_index {
            let named = match self.conversations.get(c as usize).map(|e| &e.id) {
                Some(ConversationId::Direct { low, high }) => {
                    self.user_idx(low) == Some(l) && self.user_idx(high) == Some(h)
                }
                _ => false,
            };
            ensure!(named, "direct index entry ({l}, {h})");
        }
        for e in &self.users {
            ensure!(
                e.conversations.iter().all(|&c| (c as usize) < convs),
                "conversation list of {}",
                e.id
            );
        }
        let mut total_messages = 0;
        for (ci, c) in self.conversations.iter().enumerate() {
            let len = c.len();
            total_messages += c.messages.len();
            let mut current = 0;
            for (&u, r) in &c.readers {
                ensure!((u as usize) < users, "reader index {u} in {}", c.id);
                ensure!(
                    self.users[u as usize].conversations.contains(&(ci as u32)),
                    "{} missing from the list of {}",
                    c.id,
                    self.users[u as usize].id
                );
                current += u32::from(r.is_current());
                ensure!(
                    r.current_start.is_none_or(|s| s <= len),
                    "membership start past end in {}",
                    c.id
                );
                // Participation intervals: ordered, disjoint, inside the conversation. Sums are
                // taken in u64 so forged counters cannot overflow the check itself.
                let mut past: u64 = 0;
                let mut previous_end = 0;
                for &(a, b) in &r.past {
                    ensure!(
                        previous_end <= a && a <= b && b <= len,
                        "participation interval {a}..{b} in {}",
                        c.id
                    );
                    past += u64::from(b - a);
                    previous_end = b;
                }
                ensure!(past == u64::from(r.past_len), "past length in {}", c.id);
                let current_len = match r.current_start {
                    Some(s) => {
                        ensure!(previous_end <= s, "membership overlaps in {}", c.id);
                        u64::from(len.saturating_sub(s))
                    }
                    None => 0,
                };
                ensure!(
                    u64::from(r.own_sent) + u64::from(r.read_count) <= past + current_len,
                    "unread would underflow for {} in {}",
                    self.users[u as usize].id,
                    c.id
                );
                ensure!(
                    r.read_watermark <= len && r.ack_watermark <= len,
                    "watermark past end in {}",
                    c.id
                );
                ensure!(
                    r.reads_above
                        .iter()
                        .all(|&s| s >= r.read_watermark && s < len && r.is_eligible(s)),
                    "sparse read set in {}",
                    c.id
                );
                // Conversation-ack marks rise and end at the ack watermark.
                ensure!(
                    r.ack_marks.windows(2).all(|w| w[0].0 < w[1].0)
                        && r.ack_marks.last().is_none_or(|m| m.0 == r.ack_watermark),
                    "conversation-ack marks in {}",
                    c.id
                );
            }
            // Recalls: each message once, flagged; every reader's settled count within them.
            let flagged = c
                .messages
                .iter()
                .filter(|m| m.flags & FLAG_RECALLED != 0)
                .count();
            let mut recalled = c.recalled.clone();
            recalled.sort_unstable();
            recalled.dedup();
            ensure!(
                recalled.len() == c.recalled.len()
                    && flagged == c.recalled.len()
                    && recalled.iter().all(|&s| {
                        c.messages
                            .get(s as usize)
                            .is_some_and(|m| m.flags & FLAG_RECALLED != 0)
                    }),
                "recalled messages of {}",
                c.id
            );
            // Held acks: for messages not sent in this conversation yet, by known users.
            ensure!(
                c.early_acks.iter().all(|e| (e.reader as usize) < users
                    && self
                        .messages
                        .get(&e.message)
                        .is_none_or(|r| r.conversation as usize != ci)),
                "held acks of {}",
                c.id
            );
            // Mentions: rising message positions inside the conversation.
            let rising =
                |v: &[u32]| v.windows(2).all(|w| w[0] < w[1]) && v.iter().all(|&s| s < len);
            ensure!(rising(&c.mention_all), "@all messages of {}", c.id);
            ensure!(
                c.readers
                    .values()
                    .all(|r| rising(&r.mentions)
                        && r.mention_alls_seen as usize <= c.mention_all.len()),
                "mentions in {}",
                c.id
            );
            ensure!(
                c.readers
                    .values()
                    .all(|r| r.recalls_seen as usize <= c.recalled.len()),
                "settled recalls in {}",
                c.id
            );
            ensure!(
                c.read_ack_at_ms
                    .keys()
                    .all(|&s| s < len && c.messages[s as usize].flags & FLAG_READ_ACKED != 0),
                "read-ack time of a message not acked in {}",
                c.id
            );
            if c.id.is_group() {
                ensure!(current == c.member_count, "member count of {}", c.id);
            }
            for (seq, m) in c.messages.iter().enumerate() {
                ensure!((m.sender as usize) < users, "sender index in {}", c.id);
                if let Some(acks) = &m.group_acks {
                    ensure!(
                        m.flags & FLAG_GROUP_ACK != 0,
                        "acks on a message without acks"
                    );
                    ensure!(acks.readers.len() == acks.at_ms.len(), "ack vectors differ");
                    let mut seen = acks.readers.clone();
                    seen.sort_unstable();
                    seen.dedup();
                    ensure!(
                        seen.len() == acks.readers.len(),
                        "duplicate ack in {}",
                        c.id
                    );
                    for u in &acks.readers {
                        let eligible = c.readers.get(u).is_some_and(|r| r.is_eligible(seq as u32));
                        ensure!(
                            eligible && *u != m.sender,
                            "ack by a non-recipient in {}",
                            c.id
                        );
                    }
                }
            }
        }
        ensure!(self.messages.len() == total_messages, "message index size");
        for (id, r) in &self.messages {
            ensure!(
                self.conversations
                    .get(r.conversation as usize)
                    .and_then(|c| c.messages.get(r.seq as usize))
                    .is_some_and(|m| m.id == *id),
                "message index entry {id}"
            );
        }
        self.check_threads().map_err(InvariantViolation)
    }
}
