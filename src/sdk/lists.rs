//! The Engine's list queries beyond the seed: the members who have not read a group message,
//! a user's read position, the status of many messages at once.

use crate::engine::Engine;
use crate::error::EngineError;
use receipt_domain::{
    ConversationId, MemberCursor, MessageId, MessageStatus, QueryError, UnreadMembersPage, UserId,
};
use receipt_store::Backend;
use rustc_hash::FxHashMap;

impl<B: Backend> Engine<B> {
    /// The members who have not read a group message (no read receipt from them): one page,
    /// in the order the group first saw them; pass `next` back for the following page. The
    /// same visibility rules and errors as [`Engine::fetch_group_acks`].
    ///
    /// ```
    /// # use receipt_engine::*;
    /// let engine = Engine::in_memory(EngineOptions::default().with_policy(Policy::all_receipts_on()))?;
    /// let team = GroupId::new("team")?;
    /// let (ann, bob, cat) = (UserId::new("ann")?, UserId::new("bob")?, UserId::new("cat")?);
    /// engine.create_group(&team, &ann, &[bob.clone(), cat.clone()])?;
    /// let m = MessageId(uuid::Uuid::now_v7());
    /// engine.send_message_requesting_group_acks(&ConversationId::Group(team), m, &ann)?;
    /// engine.ack_group_message_read(m, &bob)?;
    /// let page = engine.fetch_group_unread_members(&ann, m, None, 10)?;
    /// assert_eq!(page.members, [cat]);
    /// assert!(page.next.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fetch_group_unread_members(
        &self,
        viewer: &UserId,
        message: MessageId,
        cursor: Option<MemberCursor>,
        page_size: u32,
    ) -> Result<UnreadMembersPage, EngineError> {
        self.with_message_partition(message, |s, p| {
            s.fetch_group_unread_members(p, viewer, &message, cursor, page_size)
        })?
        .map_err(Into::into)
    }

    /// `user`'s read position in `conversation`: the oldest message counted in their unread
    /// count, `None` when they have read everything (or never took part).
    pub fn first_unread_message(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<Option<MessageId>, EngineError> {
        self.with_partition(conversation, |s, _| {
            s.first_unread_message(user, conversation)
        })
    }

    /// [`Engine::message_status`] of several messages at once, in the order given: one answer
    /// per message (an unknown one is `UnknownMessage` in its place); the outer `Err` only when
    /// the store cannot be read. Each conversation's partition is visited once.
    pub fn message_statuses(
        &self,
        viewer: &UserId,
        messages: &[MessageId],
    ) -> Result<Vec<Result<MessageStatus, QueryError>>, EngineError> {
        let mut by_conversation: FxHashMap<ConversationId, Vec<usize>> = FxHashMap::default();
        let mut out: Vec<Result<MessageStatus, QueryError>> = messages
            .iter()
            .map(|m| Err(QueryError::UnknownMessage(*m)))
            .collect();
        for (i, m) in messages.iter().enumerate() {
            if let Some(c) = self.log().message_conversation(*m)? {
                by_conversation.entry(c).or_default().push(i);
            }
        }
        for (conversation, indexes) in by_conversation {
            self.with_partition(&conversation, |s, p| {
                for &i in &indexes {
                    out[i] = s.message_status(p, viewer, &messages[i]);
                }
            })?;
        }
        Ok(out)
    }
}
