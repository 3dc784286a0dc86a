//! Reading and acknowledging up to a position ("read up to message X"). Both walk the messages
//! between the reader's watermark and the position once; the watermark only rises, so over a
//! conversation's life each message is walked at most once by each: amortized O(1) per message.

use crate::state::{
    Conversation, ReaderState, Seq, State, UserIdx, FLAG_READ_ACKED, FLAG_RECALLED,
};

impl Conversation {
    /// Whether reader `u` has an unread message at or before `last` (eligible, not their own,
    /// not recalled).
    pub(crate) fn unread_through(&self, u: UserIdx, r: &ReaderState, last: Seq) -> bool {
        (r.read_watermark..=last).any(|s| {
            self.messages
                .get(s as usize)
                .is_some_and(|m| m.sender != u && m.flags & FLAG_RECALLED == 0 && r.is_eligible(s))
                && !r.reads_above.contains(&s)
        })
    }

    /// Whether the peer `peer` has a message at or before `last` that reader `r` has not
    /// acknowledged (direct chats).
    pub(crate) fn unacked_through(&self, peer: UserIdx, r: &ReaderState, last: Seq) -> bool {
        (r.ack_watermark..=last).any(|s| {
            self.messages.get(s as usize).is_some_and(|m| {
                m.sender == peer && m.flags & (FLAG_READ_ACKED | FLAG_RECALLED) == 0
            })
        })
    }
}

impl State {
    /// Folds "read up to `last`" (and, with `ack_at_ms`, "acknowledged up to `last`") for
    /// reader `u` of conversation `conv`.
    pub(crate) fn fold_up_to(
        &mut self,
        conv: usize,
        u: UserIdx,
        last: Seq,
        ack_at_ms: Option<u64>,
    ) {
        let Some(c) = self.conversations.get_mut(conv) else {
            return;
        };
        let end = last.saturating_add(1).min(c.len());
        let messages = &c.messages;
        let Some(r) = c.readers.get_mut(&u) else {
            return;
        };
        if let Some(at_ms) = ack_at_ms {
            if end > r.ack_watermark {
                for s in r.ack_watermark..end {
                    let m = &messages[s as usize];
                    if m.sender != u && m.flags & (FLAG_READ_ACKED | FLAG_RECALLED) == 0 {
                        r.unacked_from_peer = r.unacked_from_peer.saturating_sub(1);
                    }
                }
                r.ack_marks.push((end, at_ms));
                r.ack_watermark = end;
            }
        }
        if end > r.read_watermark {
            for s in r.read_watermark..end {
                let counts = messages[s as usize].sender != u && r.is_eligible(s);
                if counts && !r.reads_above.remove(&s) {
                    r.read_count += 1;
                }
            }
            r.read_watermark = end;
        }
    }
}
