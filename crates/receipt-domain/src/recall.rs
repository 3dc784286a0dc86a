//! Recalled messages and unread counts. A recall must take the message out of the unread count
//! of everyone who had not read it (Matrix's bug: a redacted event still counted as unread), and
//! never below zero, but folding it may not visit a group's members. So the fold only appends
//! the message to the conversation's `recalled` list; a reader's count subtracts the recalled
//! messages that are unread for them, among the recalls after `recalls_seen` (those before were
//! settled when the reader last read everything). They are counted when asked: O(recalls since
//! the reader last read everything), and recalls are rare. A recalled message can no longer be
//! read or acknowledged (decide refuses), so whether it is unread for a reader changes only by
//! a read of everything, which settles every recall at once.

use crate::partition::ReaderSummary;
use crate::state::{
    Conversation, ReaderState, Seq, State, UserIdx, FLAG_READ_ACKED, FLAG_RECALLED,
};

impl Conversation {
    /// Messages recalled in this conversation.
    pub(crate) fn recalls(&self) -> u32 {
        // Bounded by the number of messages, itself a u32.
        u32::try_from(self.recalled.len()).unwrap_or(u32::MAX)
    }

    /// Whether recalled message `seq` was unread for reader `u` (state `r`).
    fn was_unread(&self, u: UserIdx, r: &ReaderState, seq: Seq) -> bool {
        self.messages
            .get(seq as usize)
            .is_some_and(|m| m.sender != u)
            && r.is_eligible(seq)
            && !r.has_read(seq)
    }

    /// Recalled messages unread for `u`, among those not settled by a read of everything.
    fn unsettled_recalled_unread(&self, u: UserIdx, r: &ReaderState) -> u32 {
        let from = (r.recalls_seen as usize).min(self.recalled.len());
        let n = self.recalled[from..]
            .iter()
            .filter(|&&seq| self.was_unread(u, r, seq))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Reader `u`'s unread count: eligible messages not their own, not read, not recalled.
    pub(crate) fn unread_of(&self, u: UserIdx, r: &ReaderState) -> u32 {
        r.unread(self.len())
            .saturating_sub(self.unsettled_recalled_unread(u, r))
    }
}

impl State {
    /// The summary of reader `u` in `c`, every recall accounted for.
    pub(crate) fn summary_of(
        &self,
        c: &Conversation,
        u: UserIdx,
        r: &ReaderState,
    ) -> ReaderSummary {
        ReaderSummary {
            current_start: r.current_start,
            past_len: r.past_len,
            own_sent: r.own_sent,
            read_count: r.read_count,
            recalled_unread: c.unsettled_recalled_unread(u, r),
            recalls_seen: c.recalls(),
            mentions: c.mentions_of(u, r),
            mention_alls_seen: c.mention_alls(),
            mode: r.mode,
            thread_unread: c.thread_unread_of(u),
            thread_replies_seen: c.thread_reply_count(),
        }
    }

    /// Folds a recall of message `seq` of conversation `conv`: O(1) in the group's size.
    pub(crate) fn fold_recall(&mut self, conv: usize, seq: Seq) {
        let Some(c) = self.conversations.get_mut(conv) else {
            return;
        };
        let Some(record) = c.messages.get_mut(seq as usize) else {
            return;
        };
        if record.has(FLAG_RECALLED) {
            return; // never produced by decide: a message is recalled once
        }
        record.flags |= FLAG_RECALLED;
        let (sender, acked) = (record.sender, record.has(FLAG_READ_ACKED));
        c.recalled.push(seq);
        // Direct chats: a recalled message no longer waits for the peer's conversation ack.
        if !c.id.is_group() {
            for (&u, r) in c.readers.iter_mut() {
                if u != sender && !acked && seq >= r.ack_watermark {
                    r.unacked_from_peer = r.unacked_from_peer.saturating_sub(1);
                }
            }
        }
    }
}

/// After a read of everything: every recall so far is settled (none is unread any more).
pub(crate) fn settle_all_read(r: &mut ReaderState, recalls: u32) {
    r.recalls_seen = recalls;
}
