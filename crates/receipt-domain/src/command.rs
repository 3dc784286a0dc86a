//! Commands: what a user or the service asks for. `decide` turns them into events or a typed error.
//!
//! The enum is append-only: a new kind of command gets a new variant at the end.

use crate::event::Role;
use crate::ids::{CommandId, ConversationId, GroupId, MessageId, UserId};
use serde::{Deserialize, Serialize};

/// A command with its identity and the time it was issued (the domain never reads a clock).
// Commands arrive from outside (JSON lines, request bodies): a misspelled field is an error,
// never a silent default. Commands are never stored, so this binds no stored format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// Identifies the command: a retry with the same id gets the original outcome.
    pub id: CommandId,
    /// When the command was issued, in milliseconds since the Unix epoch (the caller's clock).
    pub at_ms: u64,
    /// What is asked.
    pub kind: CommandKind,
}

/// What a command asks for. Append-only: new kinds get new variants at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub enum CommandKind {
    /// Send a message (the SDK's `sendMessage`, with `needGroupAck` for groups).
    SendMessage {
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        message: MessageId,
        /// The user who sent it.
        sender: UserId,
        /// Whether the sender asks for group read receipts (groups only).
        needs_group_ack: bool,
    },
    /// The recipient's device received a direct message (the SDK's automatic delivery ack).
    Deliver {
        /// The message.
        message: MessageId,
        /// The user whose device received it.
        recipient: UserId,
    },
    /// `sendMessageReadAck`: a direct-chat read receipt for one message.
    AckMessageRead {
        /// The message.
        message: MessageId,
        /// The user who read.
        reader: UserId,
    },
    /// `sendConversationReadAck`: read receipt for the whole direct conversation.
    AckConversationRead {
        /// The conversation.
        conversation: ConversationId,
        /// The user who read.
        reader: UserId,
    },
    /// `sendGroupMessageReadAck`.
    AckGroupMessageRead {
        /// The message.
        message: MessageId,
        /// The user who read.
        reader: UserId,
    },
    /// `markMessageAsRead`: read privately, no receipt.
    MarkMessageRead {
        /// The message.
        message: MessageId,
        /// The user who read.
        reader: UserId,
    },
    /// `markAllMessagesAsRead`: the whole conversation, privately.
    MarkConversationRead {
        /// The conversation.
        conversation: ConversationId,
        /// The user who read.
        reader: UserId,
    },
    /// A user joins a group (or is added) with a role.
    JoinGroup {
        /// The group.
        group: GroupId,
        /// The user.
        user: UserId,
        /// The role.
        role: Role,
    },
    /// A user leaves a group (or is removed).
    LeaveGroup {
        /// The group.
        group: GroupId,
        /// The user.
        user: UserId,
    },
    /// A member's role changes (owner, admin, member).
    SetRole {
        /// The group.
        group: GroupId,
        /// The user.
        user: UserId,
        /// The role.
        role: Role,
    },
    /// `asyncSendMessageReadReceipts`: read receipts for several messages of one conversation
    /// at once (direct or group, as the single acks would be), one atomic append.
    AckMessagesRead {
        /// The conversation every message must belong to.
        conversation: ConversationId,
        /// The messages, 1 to `Policy::max_messages_per_ack` (a repeated id counts once).
        messages: Vec<MessageId>,
        /// The user who read.
        reader: UserId,
    },
    /// Creates a group with its owner and first members, one atomic append.
    CreateGroup {
        /// The group: nothing may have been recorded in it yet.
        group: GroupId,
        /// Joins as the owner.
        owner: UserId,
        /// Join as members (the owner, or a repeated id, is named once); up to
        /// `Policy::max_members_per_command`, possibly none.
        members: Vec<UserId>,
    },
    /// Adds several users to a group with one role; current members are left as they are.
    AddMembers {
        /// The group.
        group: GroupId,
        /// 1 to `Policy::max_members_per_command` users.
        users: Vec<UserId>,
        /// The role the new members get.
        role: Role,
    },
    /// Removes several users from a group; former members are left as they are.
    RemoveMembers {
        /// The group.
        group: GroupId,
        /// 1 to `Policy::max_members_per_command` users, each a member now or before.
        users: Vec<UserId>,
    },
    /// Recalls (deletes for everyone) a message: its sender within the policy's recall window,
    /// or an owner or admin of its group at any time.
    RecallMessage {
        /// The message.
        message: MessageId,
        /// The user recalling it.
        by: UserId,
    },
    /// Sends a message that mentions users by name and/or everyone (`@all`): a send, then the
    /// mentions, in one decision.
    SendMessageMentioning {
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        message: MessageId,
        /// The user who sent it.
        sender: UserId,
        /// Whether the sender asks for group read receipts (groups only).
        needs_group_ack: bool,
        /// Users mentioned by name, each a recipient (up to `Policy::max_members_per_command`).
        mentions: Vec<UserId>,
        /// `@all`: every recipient.
        mention_all: bool,
    },
    /// Sets how `user` hears of `conversation`: all messages, mentions only, or muted.
    SetNotificationMode {
        /// The conversation.
        conversation: ConversationId,
        /// The user: a participant of the conversation.
        user: UserId,
        /// The mode.
        mode: crate::event::NotificationMode,
    },
    /// `sendConversationReadAck` up to a position: read receipts for every message of the
    /// peer up to and including `up_to` (direct chats).
    AckConversationReadUpTo {
        /// The conversation.
        conversation: ConversationId,
        /// The user who read.
        reader: UserId,
        /// The last message covered (of this conversation).
        up_to: MessageId,
    },
    /// Marks every message up to and including `up_to` read, privately.
    MarkConversationReadUpTo {
        /// The conversation.
        conversation: ConversationId,
        /// The user who read.
        reader: UserId,
        /// The last message covered (of this conversation).
        up_to: MessageId,
    },
    /// A read ack that names its conversation, so that it can arrive before its message: the
    /// single ack (`AckMessageRead` in a direct chat, `AckGroupMessageRead` in a group) when the
    /// message is known, else held until the message comes (or its time to live passes).
    AckMessageReadIn {
        /// The conversation of the message.
        conversation: ConversationId,
        /// The message.
        message: MessageId,
        /// The user who read.
        reader: UserId,
    },
    /// Drops the read acks `conversation` holds whose time to live has passed at the command's
    /// time, telling each reader why (`EarlyAckDropped`, reason `Expired`). The engine sends it
    /// itself before refusing an ack for the store-wide bound; a service may send it on a timer.
    ExpireEarlyAcks {
        /// The conversation.
        conversation: ConversationId,
    },
    /// A reply in the thread of `root`, a message of `conversation` (the first reply starts
    /// the thread). The sender follows the thread.
    SendThreadReply {
        /// The conversation.
        conversation: ConversationId,
        /// The message replied to (not itself a reply).
        root: MessageId,
        /// The reply's id, unique in the store like every message id.
        message: MessageId,
        /// The user who sends it: a participant of the conversation.
        sender: UserId,
    },
    /// Follows the thread of `root`: its new replies count as unread for `user`.
    FollowThread {
        /// The conversation.
        conversation: ConversationId,
        /// The thread's root message.
        root: MessageId,
        /// The user: a participant of the conversation.
        user: UserId,
    },
    /// Stops following the thread of `root`: it has no unread replies for `user` any more.
    UnfollowThread {
        /// The conversation.
        conversation: ConversationId,
        /// The thread's root message.
        root: MessageId,
        /// The user.
        user: UserId,
    },
    /// Reads every reply of the thread of `root`, privately.
    MarkThreadRead {
        /// The conversation.
        conversation: ConversationId,
        /// The thread's root message.
        root: MessageId,
        /// The user who read: a participant of the conversation.
        reader: UserId,
    },
    /// Reads every reply of the thread of `root`, with a read receipt.
    AckThreadRead {
        /// The conversation.
        conversation: ConversationId,
        /// The thread's root message.
        root: MessageId,
        /// The user who read: a participant of the conversation.
        reader: UserId,
    },
}
