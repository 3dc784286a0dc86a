//! One method per operation of the seed's SDK, named so its users recognise them.

mod lists;
mod mentions;
mod threads;

use crate::engine::{Engine, Outcome};
use crate::error::EngineError;
use receipt_domain::{
    AckCursor, Badge, CommandKind, ConversationId, ConversationUnread, GroupAckPage, GroupId,
    MessageId, MessageStatus, Role, UserId,
};
use receipt_store::Backend;

impl<B: Backend> Engine<B> {
    /// `sendMessage`: a message without group read receipts (direct chats always; in a group
    /// see [`Engine::send_message_requesting_group_acks`]).
    ///
    /// ```
    /// # use receipt_engine::*;
    /// let engine = Engine::in_memory(EngineOptions::default())?;
    /// let (ann, bob) = (UserId::new("ann")?, UserId::new("bob")?);
    /// let chat = ConversationId::direct(ann.clone(), bob.clone())?;
    /// engine.send_message(&chat, MessageId(uuid::Uuid::now_v7()), &ann)?;
    /// assert_eq!(engine.unread_count(&bob, &chat)?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_message(
        &self,
        conversation: &ConversationId,
        message: MessageId,
        sender: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.send(conversation, message, sender, false)
    }

    /// `sendMessage` with `needGroupAck`: a group message whose readers send group read acks.
    /// Sending never fails because of receipts: when the policy declines the request (receipts
    /// off, sender not allowed, group above `max_group_size`), the message is sent without them
    /// and [`Outcome::note`] says why.
    ///
    /// ```
    /// # use receipt_engine::*;
    /// let engine = Engine::in_memory(EngineOptions::default().with_policy(Policy::all_receipts_on()))?;
    /// let (ann, bob) = (UserId::new("ann")?, UserId::new("bob")?);
    /// let team = GroupId::new("team")?;
    /// engine.join_group(&team, &ann, Role::Owner)?;
    /// engine.join_group(&team, &bob, Role::Member)?;
    /// let m = MessageId(uuid::Uuid::now_v7());
    /// let sent = engine.send_message_requesting_group_acks(&ConversationId::Group(team), m, &ann)?;
    /// assert_eq!(sent.note, None, "accepted with receipts");
    /// engine.ack_group_message_read(m, &bob)?;
    /// assert_eq!(engine.group_ack_count(&ann, m)?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_message_requesting_group_acks(
        &self,
        conversation: &ConversationId,
        message: MessageId,
        sender: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.send(conversation, message, sender, true)
    }

    fn send(
        &self,
        conversation: &ConversationId,
        message: MessageId,
        sender: &UserId,
        needs_group_ack: bool,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::SendMessage {
            conversation: conversation.clone(),
            message,
            sender: sender.clone(),
            needs_group_ack,
        })
    }

    /// The recipient's device received a direct message (delivery receipt).
    ///
    /// ```
    /// # use receipt_engine::*;
    /// let engine = Engine::in_memory(EngineOptions::default().with_policy(Policy::all_receipts_on()))?;
    /// let (ann, bob) = (UserId::new("ann")?, UserId::new("bob")?);
    /// let chat = ConversationId::direct(ann.clone(), bob.clone())?;
    /// let m = MessageId(uuid::Uuid::now_v7());
    /// engine.send_message(&chat, m, &ann)?;
    /// let delivered = engine.deliver(m, &bob)?;
    /// assert_eq!(delivered.notifications[0].to, ann); // onMessagesDelivered
    /// assert_eq!(engine.message_status(&ann, m)?.has_deliver_ack, Some(true));
    /// // Without `require_delivery_ack` the command is refused and changes nothing.
    /// let off = Engine::in_memory(EngineOptions::default())?;
    /// off.send_message(&chat, m, &ann)?;
    /// assert!(matches!(off.deliver(m, &bob), Err(EngineError::Rejected(DomainError::DeliveryAcksDisabled))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn deliver(&self, message: MessageId, recipient: &UserId) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::Deliver {
            message,
            recipient: recipient.clone(),
        })
    }

    /// `sendMessageReadAck`.
    pub fn ack_message_read(
        &self,
        message: MessageId,
        reader: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::AckMessageRead {
            message,
            reader: reader.clone(),
        })
    }

    /// `sendConversationReadAck`.
    pub fn ack_conversation_read(
        &self,
        conversation: &ConversationId,
        reader: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::AckConversationRead {
            conversation: conversation.clone(),
            reader: reader.clone(),
        })
    }

    /// `sendGroupMessageReadAck`.
    pub fn ack_group_message_read(
        &self,
        message: MessageId,
        reader: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::AckGroupMessageRead {
            message,
            reader: reader.clone(),
        })
    }

    /// `markMessageAsRead`: read without a receipt.
    ///
    /// ```
    /// # use receipt_engine::*;
    /// let engine = Engine::in_memory(EngineOptions::default())?; // works with receipts off
    /// let (ann, bob) = (UserId::new("ann")?, UserId::new("bob")?);
    /// let chat = ConversationId::direct(ann.clone(), bob.clone())?;
    /// let m = MessageId(uuid::Uuid::now_v7());
    /// engine.send_message(&chat, m, &ann)?;
    /// let read = engine.mark_message_read(m, &bob)?;
    /// assert_eq!(engine.unread_count(&bob, &chat)?, 0);
    /// assert!(read.notifications.iter().all(|n| n.to == bob), "the sender is told nothing");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn mark_message_read(
        &self,
        message: MessageId,
        reader: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::MarkMessageRead {
            message,
            reader: reader.clone(),
        })
    }

    /// `markAllMessagesAsRead`.
    pub fn mark_conversation_read(
        &self,
        conversation: &ConversationId,
        reader: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::MarkConversationRead {
            conversation: conversation.clone(),
            reader: reader.clone(),
        })
    }

    /// `asyncSendMessageReadReceipts`: read receipts for up to `Policy::max_messages_per_ack`
    /// messages of one conversation in one command and one atomic append. Each message is
    /// acknowledged as [`Engine::ack_message_read`] (direct) or
    /// [`Engine::ack_group_message_read`] (group) would; the first one either would refuse
    /// refuses the whole command, and messages already acknowledged are skipped.
    pub fn ack_messages_read(
        &self,
        conversation: &ConversationId,
        messages: &[MessageId],
        reader: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::AckMessagesRead {
            conversation: conversation.clone(),
            messages: messages.to_vec(),
            reader: reader.clone(),
        })
    }

    /// Creates a group with its owner and first members (up to
    /// `Policy::max_members_per_command`), one atomic append. Refused with `GroupExists` if
    /// anything was ever recorded in the group.
    pub fn create_group(
        &self,
        group: &GroupId,
        owner: &UserId,
        members: &[UserId],
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::CreateGroup {
            group: group.clone(),
            owner: owner.clone(),
            members: members.to_vec(),
        })
    }

    /// Adds several users to a group with `role`, one atomic append; current members keep the
    /// role they have.
    pub fn add_members(
        &self,
        group: &GroupId,
        users: &[UserId],
        role: Role,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::AddMembers {
            group: group.clone(),
            users: users.to_vec(),
            role,
        })
    }

    /// Removes several users from a group, one atomic append; former members are skipped, a
    /// user who was never a member refuses the command (`NotAMember`).
    pub fn remove_members(
        &self,
        group: &GroupId,
        users: &[UserId],
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::RemoveMembers {
            group: group.clone(),
            users: users.to_vec(),
        })
    }

    /// `sendConversationReadAck` up to a position: read receipts for every message of the peer
    /// up to and including `up_to` (a message of this direct conversation), which the reader
    /// has then read too. A no-op when nothing up to it waits for a receipt.
    pub fn ack_conversation_read_up_to(
        &self,
        conversation: &ConversationId,
        reader: &UserId,
        up_to: MessageId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::AckConversationReadUpTo {
            conversation: conversation.clone(),
            reader: reader.clone(),
            up_to,
        })
    }

    /// Marks every message up to and including `up_to` read, privately (a client that shows
    /// a conversation's first screen). A no-op when nothing up to it is unread.
    pub fn mark_conversation_read_up_to(
        &self,
        conversation: &ConversationId,
        reader: &UserId,
        up_to: MessageId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::MarkConversationReadUpTo {
            conversation: conversation.clone(),
            reader: reader.clone(),
            up_to,
        })
    }

    /// A read ack that names its conversation, so it may arrive before its message (reordered
    /// delivery): the single ack when the message is known; else held, up to
    /// `Policy::max_early_acks_per_conversation` per conversation and
    /// `Policy::max_early_acks_total` in the store, and applied when the message comes, or
    /// dropped with a reason (`EarlyAckDropped`, told to the reader) after
    /// `Policy::early_ack_ttl_ms`. At the store-wide bound the expired acks of every
    /// conversation are dropped first, so only live acks can refuse one (`EarlyAcksFull`).
    pub fn ack_message_read_in(
        &self,
        conversation: &ConversationId,
        message: MessageId,
        reader: &UserId,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::AckMessageReadIn {
            conversation: conversation.clone(),
            message,
            reader: reader.clone(),
        })
    }

    /// Drops every held read ack whose time to live has passed (by the engine's clock), in
    /// every conversation, telling each reader (`EarlyAckDropped`, reason `Expired`); returns
    /// how many were dropped. Optional: a held ack is dropped anyway when its message comes,
    /// when its conversation needs the room, or when the store-wide bound is reached; a service
    /// that wants readers told promptly calls this on a timer.
    pub fn expire_early_acks(&self) -> Result<usize, EngineError> {
        self.drop_expired_early_acks(self.now_ms(), None)
    }

    /// Recalls (deletes for everyone) a message: its sender within `Policy::recall_window_ms`,
    /// an owner or admin of its group at any time. It leaves every unread count that still held
    /// it, the reader list and the ack count; a repeated recall is a no-op.
    pub fn recall_message(&self, message: MessageId, by: &UserId) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::RecallMessage {
            message,
            by: by.clone(),
        })
    }

    /// A user joins a group with a role (a no-op if already in it with that role).
    pub fn join_group(
        &self,
        group: &GroupId,
        user: &UserId,
        role: Role,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::JoinGroup {
            group: group.clone(),
            user: user.clone(),
            role,
        })
    }

    /// A user leaves a group; their unread count there stays until they read it.
    pub fn leave_group(&self, group: &GroupId, user: &UserId) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::LeaveGroup {
            group: group.clone(),
            user: user.clone(),
        })
    }

    /// Changes a current member's role.
    pub fn set_role(
        &self,
        group: &GroupId,
        user: &UserId,
        role: Role,
    ) -> Result<Outcome, EngineError> {
        self.execute(CommandKind::SetRole {
            group: group.clone(),
            user: user.clone(),
            role,
        })
    }

    /// `fetchGroupAcks`: a page of readers in ack order.
    ///
    /// ```
    /// # use receipt_engine::*;
    /// let engine = Engine::in_memory(EngineOptions::default().with_policy(Policy::all_receipts_on()))?;
    /// let team = GroupId::new("team")?;
    /// let users: Vec<UserId> = (0..5).map(|i| UserId::new(format!("u{i}"))).collect::<Result<_, _>>()?;
    /// for u in &users {
    ///     engine.join_group(&team, u, Role::Member)?;
    /// }
    /// let m = MessageId(uuid::Uuid::now_v7());
    /// engine.send_message_requesting_group_acks(&ConversationId::Group(team), m, &users[0])?;
    /// for u in &users[1..] {
    ///     engine.ack_group_message_read(m, u)?;
    /// }
    /// let first = engine.fetch_group_acks(&users[0], m, None, 3)?;
    /// assert_eq!(first.entries.len(), 3);
    /// let rest = engine.fetch_group_acks(&users[0], m, first.next, 3)?;
    /// assert_eq!(rest.entries.len(), 1);
    /// assert!(rest.next.is_none());
    /// // Only the sender may look, under the default visibility.
    /// assert!(engine.fetch_group_acks(&users[1], m, None, 3).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fetch_group_acks(
        &self,
        viewer: &UserId,
        message: MessageId,
        cursor: Option<AckCursor>,
        page_size: u32,
    ) -> Result<GroupAckPage, EngineError> {
        self.with_message_partition(message, |s, p| {
            s.fetch_group_acks(p, viewer, &message, cursor, page_size)
        })?
        .map_err(Into::into)
    }

    /// `groupAckCount`.
    pub fn group_ack_count(&self, viewer: &UserId, message: MessageId) -> Result<u32, EngineError> {
        self.with_message_partition(message, |s, p| s.group_ack_count(p, viewer, &message))?
            .map_err(Into::into)
    }

    /// Unread messages for `user` in `conversation`: O(1) from memory when the conversation
    /// or the user's summary is resident, else one or two checkpoint reads (never the
    /// conversation's messages). `Err` only when the store cannot be read.
    pub fn unread_count(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<u32, EngineError> {
        self.with_projections(|p, log| p.unread(log, user, conversation))
    }

    /// The badge: unread over all the user's conversations, each counted as its notification
    /// mode says (a muted one adds nothing, one in mentions-only mode only its mentions, thread
    /// replies as the policy says). So it is not always the sum of [`Engine::conversations`]'
    /// unread counts, which are each conversation's own; [`Engine::badge`] gives its parts. A
    /// user nothing was ever recorded for has a badge of 0, not an error: the engine keeps no
    /// user directory, and a new user has nothing unread. [`Engine::knows_user`] tells the two
    /// apart where it matters.
    ///
    /// ```
    /// # use receipt_engine::*;
    /// let engine = Engine::in_memory(EngineOptions::default())?;
    /// let (ann, bob, cat) = (UserId::new("ann")?, UserId::new("bob")?, UserId::new("cat")?);
    /// for from in [&ann, &cat] {
    ///     let chat = ConversationId::direct(from.clone(), bob.clone())?;
    ///     engine.send_message(&chat, MessageId(uuid::Uuid::now_v7()), from)?;
    /// }
    /// assert_eq!(engine.total_unread(&bob)?, 2);
    /// let list = engine.conversations(&bob)?;
    /// assert_eq!(list.len(), 2);
    /// assert!(list.iter().all(|c| c.unread == 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn total_unread(&self, user: &UserId) -> Result<u64, EngineError> {
        Ok(self.badge(user)?.unread)
    }

    /// The badge with unread messages and mentions apart, each conversation counted as its
    /// notification mode says (a muted one not at all, one in mentions-only mode by its
    /// mentions). O(the user's conversations), from summaries and headers.
    pub fn badge(&self, user: &UserId) -> Result<Badge, EngineError> {
        Ok(Badge::of(&self.conversations(user)?).under(&self.policy()))
    }

    /// The user's conversations with their unread counts, newest activity first (by the time
    /// of each conversation's last message, then by conversation id). Answered from the
    /// per-(user, conversation) summaries and the conversation headers: O(the user's
    /// conversations), never loading a conversation's messages.
    pub fn conversations(&self, user: &UserId) -> Result<Vec<ConversationUnread>, EngineError> {
        self.with_projections(|p, log| p.conversations(log, user))
    }

    /// Whether anything was ever recorded for `user` in this store (they take part in at least
    /// one conversation): how a tool or a service tells a user with nothing unread from a name
    /// nobody ever used (a typo), which [`Engine::badge`] does not (both are 0).
    ///
    /// ```
    /// # use receipt_engine::*;
    /// let engine = Engine::in_memory(EngineOptions::default())?;
    /// let (ann, bob) = (UserId::new("ann")?, UserId::new("bob")?);
    /// engine.send_message(&ConversationId::direct(ann.clone(), bob.clone())?, MessageId(uuid::Uuid::now_v7()), &ann)?;
    /// assert!(engine.knows_user(&bob)?);
    /// assert!(!engine.knows_user(&UserId::new("nobody")?)?);
    /// assert_eq!(engine.total_unread(&UserId::new("nobody")?)?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn knows_user(&self, user: &UserId) -> Result<bool, EngineError> {
        Ok(!self.conversations(user)?.is_empty())
    }

    /// The SDK's local receipt fields of a message, as `viewer` sees them.
    pub fn message_status(
        &self,
        viewer: &UserId,
        message: MessageId,
    ) -> Result<MessageStatus, EngineError> {
        self.with_message_partition(message, |s, p| s.message_status(p, viewer, &message))?
            .map_err(Into::into)
    }
}
