//! Per-user answers (unread, the conversation list) from summaries and headers: resident,
//! cached, or read from their checkpoint entries, never loading a partition unless an entry is
//! missing or unusable.

use super::{unusable, Projections, UserSummaries, ENTRY_BYTES_ESTIMATE};
use receipt_domain::{
    order_conversation_list, ConversationHeader, ConversationId, ConversationUnread, ReaderSummary,
    UserId,
};
use receipt_store::{Backend, EventLog, StoreError};

impl Projections {
    /// The header of a conversation: from its partition when resident, else the cache, else
    /// its checkpoint (a missing or unusable one loads the partition).
    fn header<B: Backend>(
        &mut self,
        log: &EventLog<B>,
        c: &ConversationId,
    ) -> Result<ConversationHeader, StoreError> {
        if let Some(p) = self.parts.get(c) {
            return Ok(p.state.header(c).unwrap_or_default());
        }
        if let Some(slot) = self.headers.get(c) {
            return Ok(slot.value.0);
        }
        let stored = match log.load_header(c)? {
            Some(Ok(found)) => Some(found),
            Some(Err(u)) => unusable(&mut self.stats, &u),
            None => None,
        };
        let (header, version) = match stored {
            Some(found) => found,
            None => {
                // Rewritten at the next checkpoint so the next cold answer needs no load.
                self.repair(log, c)?;
                return Ok(self.partition(log, c, None)?.header(c).unwrap_or_default());
            }
        };
        self.set_header(c, header, version, false);
        Ok(header)
    }

    /// `user`'s summary in `c`, if they have read state there.
    fn summary<B: Backend>(
        &mut self,
        log: &EventLog<B>,
        user: &UserId,
        c: &ConversationId,
    ) -> Result<Option<ReaderSummary>, StoreError> {
        if let Some(p) = self.parts.get(c) {
            return Ok(p.state.reader_summary(c, user));
        }
        if let Some(entry) = self.users.get(user) {
            if let Some(slot) = entry.convs.get(c) {
                return Ok(Some(slot.value));
            }
            if entry.complete {
                return Ok(None);
            }
        }
        match log.load_summary(user, c)? {
            Some(Ok(s)) => {
                self.set_summary(user, c, s, false);
                Ok(Some(s))
            }
            Some(Err(u)) => {
                let _: Option<()> = unusable(&mut self.stats, &u);
                self.rebuilt_summary(log, user, c)
            }
            None => Ok(None),
        }
    }

    fn rebuilt_summary<B: Backend>(
        &mut self,
        log: &EventLog<B>,
        user: &UserId,
        c: &ConversationId,
    ) -> Result<Option<ReaderSummary>, StoreError> {
        self.repair(log, c)?;
        Ok(self.partition(log, c, None)?.reader_summary(c, user))
    }

    /// After an unusable entry of conversation `c`: its header and every summary of its
    /// readers are set from the partition (rebuilt from the log if need be) and marked dirty,
    /// so the next checkpoint rewrites whatever else of `c` may be bad too.
    fn repair<B: Backend>(
        &mut self,
        log: &EventLog<B>,
        c: &ConversationId,
    ) -> Result<(), StoreError> {
        let state = self.partition(log, c, None)?;
        let header = state.header(c).unwrap_or_default();
        let version = state.events_applied();
        let summaries = state.reader_summaries(c);
        self.set_header(c, header, version, true);
        for (u, s) in summaries {
            self.set_summary(&u, c, s, true);
        }
        Ok(())
    }

    /// Unread messages for `user` in `c`.
    pub(crate) fn unread<B: Backend>(
        &mut self,
        log: &EventLog<B>,
        user: &UserId,
        c: &ConversationId,
    ) -> Result<u32, StoreError> {
        let Some(summary) = self.summary(log, user, c)? else {
            return Ok(0);
        };
        let header = self.header(log, c)?;
        Ok(self
            .current(log, user, c, summary, header)?
            .unread(header.len))
    }

    /// `summary`, unless a recall or an `@all` message since makes it stale (a summary behind
    /// the header's `recalls` or `mention_alls`: neither refreshes a group member's summary, see
    /// `receipt_domain::ReaderSummary::is_behind`): then the one the partition gives, kept for
    /// the next checkpoint. The lazy half of their O(1) folds: one partition load per reader,
    /// on their next question.
    fn current<B: Backend>(
        &mut self,
        log: &EventLog<B>,
        user: &UserId,
        c: &ConversationId,
        summary: ReaderSummary,
        header: ConversationHeader,
    ) -> Result<ReaderSummary, StoreError> {
        if !summary.is_behind(&header) {
            return Ok(summary);
        }
        let fresh = self
            .partition(log, c, None)?
            .reader_summary(c, user)
            .unwrap_or(summary);
        self.set_summary(user, c, fresh, true);
        Ok(fresh)
    }

    /// The user's conversations with their unread counts, newest activity first.
    pub(crate) fn conversations<B: Backend>(
        &mut self,
        log: &EventLog<B>,
        user: &UserId,
    ) -> Result<Vec<ConversationUnread>, StoreError> {
        self.complete_user(log, user)?;
        let summaries: Vec<(ConversationId, ReaderSummary)> = match self.users.get(user) {
            Some(entry) => entry
                .convs
                .iter()
                .map(|(c, s)| (c.clone(), s.value))
                .collect(),
            None => return Ok(Vec::new()),
        };
        let mut list = Vec::with_capacity(summaries.len());
        for (conversation, summary) in summaries {
            // A resident partition is newer than a cached summary only if it is dirty, and then
            // the summary was refreshed with it: both agree.
            let header = self.header(log, &conversation)?;
            let summary = self.current(log, user, &conversation, summary, header)?;
            list.push(ConversationUnread {
                unread: summary.unread(header.len),
                mentions: summary.mentions,
                mode: summary.mode,
                thread_unread: summary.thread_unread,
                last_message_at_ms: header.last_message_at_ms,
                conversation,
            });
        }
        self.users.to_back(user);
        order_conversation_list(&mut list);
        Ok(list)
    }

    /// Reads every checkpointed summary of `user` the cache does not hold yet.
    fn complete_user<B: Backend>(
        &mut self,
        log: &EventLog<B>,
        user: &UserId,
    ) -> Result<(), StoreError> {
        if self.users.get(user).is_some_and(|e| e.complete) {
            return Ok(());
        }
        for (c, stored) in log.load_user_summaries(user)? {
            let known = self
                .users
                .get(user)
                .is_some_and(|e| e.convs.contains_key(&c));
            if known {
                continue; // what the cache holds is at least as new
            }
            match stored {
                Ok(s) => self.set_summary(user, &c, s, false),
                Err(u) => {
                    let _: Option<()> = unusable(&mut self.stats, &u);
                    self.rebuilt_summary(log, user, &c)?;
                }
            }
        }
        if !self.users.contains_key(user) {
            self.entry_bytes += ENTRY_BYTES_ESTIMATE;
            self.users.insert(user.clone(), UserSummaries::default());
        }
        if let Some(e) = self.users.get_mut(user) {
            e.complete = true;
        }
        Ok(())
    }
}
