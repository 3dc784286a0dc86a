//! Mentions: per (user, conversation) a count of unread messages that mention the user, cleared
//! by the same reads as unread. A message names its mentioned users (O(users named) to fold);
//! `@all` mentions every recipient, so, like a recall, it is folded in O(1): the message joins
//! the conversation's `mention_all` list and each reader counts the ones still unread for them
//! among those since they last read everything. Recalled messages count for nobody.

use crate::state::{Conversation, ReaderState, Seq, UserIdx, FLAG_RECALLED};

impl Conversation {
    /// Messages that mentioned everyone here.
    pub(crate) fn mention_alls(&self) -> u32 {
        // Bounded by the number of messages, itself a u32.
        u32::try_from(self.mention_all.len()).unwrap_or(u32::MAX)
    }

    /// Whether message `seq` is unread for reader `u` and still counts (not recalled).
    fn counts_unread(&self, u: UserIdx, r: &ReaderState, seq: Seq) -> bool {
        self.messages
            .get(seq as usize)
            .is_some_and(|m| m.sender != u && m.flags & FLAG_RECALLED == 0)
            && r.is_eligible(seq)
            && !r.has_read(seq)
    }

    /// Unread messages that mention reader `u`, by name or as everyone (each message once).
    /// O(mentions since the reader last read everything).
    pub(crate) fn mentions_of(&self, u: UserIdx, r: &ReaderState) -> u32 {
        let named = r
            .mentions
            .iter()
            .filter(|&&s| self.counts_unread(u, r, s))
            .count();
        let from = (r.mention_alls_seen as usize).min(self.mention_all.len());
        let everyone = self.mention_all[from..]
            .iter()
            .filter(|&&s| !r.mentions.contains(&s) && self.counts_unread(u, r, s))
            .count();
        u32::try_from(named + everyone).unwrap_or(u32::MAX)
    }
}

/// After a read of everything: no mention is unread any more.
pub(crate) fn settle_mentions(r: &mut ReaderState, mention_alls: u32) {
    r.mentions.clear();
    r.mention_alls_seen = mention_alls;
}
