//! The Engine's thread commands and queries (docs/semantics.md, "Threads"): replies to a
//! message, followed, read and counted apart from the conversation's own unread count.

use crate::engine::{Engine, Outcome};
use crate::error::EngineError;
use receipt_domain::{CommandKind, ConversationId, MessageId, ThreadUnread, UserId};
use receipt_store::Backend;

impl<B: Backend> Engine<B> {
    /// A reply in the thread of `root` (a message of `conversation`; the first reply starts the
    /// thread). The sender follows the thread; with the first reply, so does the root's sender.
    /// A retry (same id, thread and sender) is a no-op.
    ///
    /// ```
    /// # use receipt_engine::*;
    /// let engine = Engine::in_memory(EngineOptions::default())?;
    /// let team = GroupId::new("team")?;
    /// let (ann, bob, cat) = (UserId::new("ann")?, UserId::new("bob")?, UserId::new("cat")?);
    /// let chat = ConversationId::Group(team.clone());
    /// engine.create_group(&team, &ann, &[bob.clone(), cat.clone()])?;
    /// let root = MessageId(uuid::Uuid::now_v7());
    /// engine.send_message(&chat, root, &ann)?;
    /// engine.send_thread_reply(&chat, root, MessageId(uuid::Uuid::now_v7()), &bob)?;
    /// // Ann follows the thread she started; Cat does not; nobody's conversation unread moves.
    /// assert_eq!(engine.thread_unread_count(&ann, &chat, root)?, 1);
    /// assert_eq!(engine.thread_unread_count(&cat, &chat, root)?, 0);
    /// assert_eq!(engine.unread_count(&cat, &chat)?, 1);
    /// assert_eq!(engine.badge(&ann)?.thread_unread, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_thread_reply(
        &self,
        conversation: &ConversationId,
        root: MessageId,
        message: MessageId,
        sender: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::SendThreadReply {
            conversation: conversation.clone(),
            root,
            message,
            sender: sender.clone(),
        })
    }

    /// Follows the thread of `root`: its replies from now on count as unread for `user`.
    pub fn follow_thread(
        &self,
        conversation: &ConversationId,
        root: MessageId,
        user: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::FollowThread {
            conversation: conversation.clone(),
            root,
            user: user.clone(),
        })
    }

    /// Stops following the thread of `root`: it has no unread replies for `user` any more.
    pub fn unfollow_thread(
        &self,
        conversation: &ConversationId,
        root: MessageId,
        user: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::UnfollowThread {
            conversation: conversation.clone(),
            root,
            user: user.clone(),
        })
    }

    /// Reads every reply of the thread of `root`, privately (no receipt).
    pub fn mark_thread_read(
        &self,
        conversation: &ConversationId,
        root: MessageId,
        reader: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::MarkThreadRead {
            conversation: conversation.clone(),
            root,
            reader: reader.clone(),
        })
    }

    /// Reads every reply of the thread of `root` with a read receipt ([`Engine::thread_read_by`]
    /// lists it).
    pub fn ack_thread_read(
        &self,
        conversation: &ConversationId,
        root: MessageId,
        reader: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::AckThreadRead {
            conversation: conversation.clone(),
            root,
            reader: reader.clone(),
        })
    }

    /// Replies from others in the thread of `root` that `user` has not read (0 unless they
    /// follow it).
    pub fn thread_unread_count(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        root: MessageId,
    ) -> Result<u32, EngineError> {
        self.with_partition(conversation, |s, _| {
            s.thread_unread_count(user, conversation, &root)
        })
    }

    /// The threads `user` follows in `conversation`, oldest root first, with their replies and
    /// unread replies.
    pub fn thread_unreads(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<Vec<ThreadUnread>, EngineError> {
        self.with_partition(conversation, |s, _| s.thread_unreads(user, conversation))
    }

    /// The replies of the thread of `root`, in order.
    pub fn thread_replies(
        &self,
        conversation: &ConversationId,
        root: MessageId,
    ) -> Result<Vec<MessageId>, EngineError> {
        self.with_partition(conversation, |s, _| s.thread_replies(conversation, &root))
    }

    /// Who has read `reply` with a receipt, its sender excluded, sorted: visible to its sender,
    /// and to current participants in a direct chat or when group ack lists are open to all
    /// members (`AckVisibility::AllMembers`).
    pub fn thread_read_by(
        &self,
        viewer: &UserId,
        reply: MessageId,
    ) -> Result<Vec<UserId>, EngineError> {
        self.with_message_partition(reply, |s, p| s.thread_read_by(p, viewer, &reply))?
            .map_err(Into::into)
    }
}
