//! Notifications: derived from an event and the state right after folding it, addressed to the
//! user who must be told (the SDK's `onMessagesDelivered`, `onMessagesRead`, `onConversationRead`,
//! `onGroupMessageRead`, plus read-state sync for the reader's own other devices).

use crate::event::{Event, EventBody};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::state::State;
use serde::{Deserialize, Serialize};

/// Something a user's devices should be told, derived from one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The user to notify.
    pub to: UserId,
    /// What kind.
    pub kind: NotificationKind,
}

/// What the notification says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum NotificationKind {
    /// To the sender: the recipient's device received the message.
    MessageDelivered {
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        message: MessageId,
        /// The user who acted.
        by: UserId,
    },
    /// To the sender: the recipient acknowledged reading the message.
    MessageRead {
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        message: MessageId,
        /// The user who acted.
        by: UserId,
    },
    /// To the peer: the reader acknowledged the whole direct conversation.
    ConversationRead {
        /// The conversation.
        conversation: ConversationId,
        /// The user who acted.
        by: UserId,
    },
    /// To the sender: a member acked a group message; `count` is the new ack count.
    GroupMessageRead {
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        message: MessageId,
        /// The user who acted.
        by: UserId,
        /// The message's read-ack count now.
        count: u32,
    },
    /// A message was recalled: to its sender and whoever recalled it (their other devices) and,
    /// in a direct chat, to the peer. Group members learn it the way they learn of messages,
    /// from the service's broadcast: the engine addresses no group's whole roster.
    MessageRecalled {
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        message: MessageId,
        /// The user who recalled it.
        by: UserId,
    },
    /// To the peer: the reader acknowledged the direct conversation up to and including
    /// `up_to`.
    ConversationReadUpTo {
        /// The conversation.
        conversation: ConversationId,
        /// The user who acted.
        by: UserId,
        /// The last message covered.
        up_to: MessageId,
    },
    /// To the reader: their read ack, held until its message came, was dropped (why).
    EarlyAckDropped {
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        message: MessageId,
        /// Why it was not applied.
        reason: crate::event::EarlyAckDropReason,
    },
    /// To a user mentioned by name: the message mentions them (`@all` addresses nobody one by
    /// one: the service broadcasts the message).
    Mentioned {
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        message: MessageId,
        /// Its sender.
        by: UserId,
    },
    /// To the user (their other devices): they follow the thread of `root` now, or no longer.
    ThreadFollowChanged {
        /// The conversation.
        conversation: ConversationId,
        /// The thread's root message.
        root: MessageId,
        /// Following from now on, or not.
        following: bool,
    },
    /// To the reader (their other devices): they read the thread of `root` (its unread count
    /// is 0). Receipts of thread replies are read with `thread_read_by`, not pushed: pushing
    /// each covered reply's sender would cost a walk over the replies a read covers.
    ThreadRead {
        /// The conversation.
        conversation: ConversationId,
        /// The thread's root message.
        root: MessageId,
    },
    /// To the user (their other devices): how they hear of the conversation changed.
    NotificationModeChanged {
        /// The conversation.
        conversation: ConversationId,
        /// The new mode.
        mode: crate::event::NotificationMode,
    },
    /// To the reader (their other devices): their read state in the conversation changed.
    ReadStateChanged {
        /// The conversation.
        conversation: ConversationId,
        /// The reader's unread count in the conversation now.
        unread: u32,
    },
}

impl State {
    /// Notifications for `event`, computed on the state *after* the event was folded.
    pub fn notifications_for(&self, event: &Event) -> Vec<Notification> {
        let sender_of = |m: &MessageId| {
            self.message(m)
                .map(|(_, r, _)| self.user_id(r.sender).clone())
        };
        let read_sync = |conversation: &ConversationId, reader: &UserId| Notification {
            to: reader.clone(),
            kind: NotificationKind::ReadStateChanged {
                conversation: conversation.clone(),
                unread: self.unread_count(reader, conversation),
            },
        };
        let mut out = Vec::new();
        match &event.body {
            EventBody::Delivered {
                conversation,
                message,
                recipient,
            } => out.extend(sender_of(message).map(|to| Notification {
                to,
                kind: NotificationKind::MessageDelivered {
                    conversation: conversation.clone(),
                    message: *message,
                    by: recipient.clone(),
                },
            })),
            EventBody::ReadAcked {
                conversation,
                message,
                reader,
            } => {
                out.extend(sender_of(message).map(|to| Notification {
                    to,
                    kind: NotificationKind::MessageRead {
                        conversation: conversation.clone(),
                        message: *message,
                        by: reader.clone(),
                    },
                }));
                out.push(read_sync(conversation, reader));
            }
            EventBody::ConversationAcked {
                conversation,
                reader,
            } => {
                out.extend(conversation.peer_of(reader).map(|peer| Notification {
                    to: peer.clone(),
                    kind: NotificationKind::ConversationRead {
                        conversation: conversation.clone(),
                        by: reader.clone(),
                    },
                }));
                out.push(read_sync(conversation, reader));
            }
            EventBody::GroupReadAcked {
                group,
                message,
                reader,
            } => {
                let conversation = ConversationId::Group(group.clone());
                if let Some((_, record, _)) = self.message(message) {
                    out.push(Notification {
                        to: self.user_id(record.sender).clone(),
                        kind: NotificationKind::GroupMessageRead {
                            conversation: conversation.clone(),
                            message: *message,
                            by: reader.clone(),
                            count: record.group_ack_count(),
                        },
                    });
                }
                out.push(read_sync(&conversation, reader));
            }
            EventBody::MessageMarkedRead {
                conversation,
                reader,
                ..
            }
            | EventBody::ConversationMarkedRead {
                conversation,
                reader,
            } => out.push(read_sync(conversation, reader)),
            EventBody::MessageRecalled {
                conversation,
                message,
                by,
            } => {
                let mut to: Vec<UserId> = Vec::with_capacity(3);
                if let Some(sender) = sender_of(message) {
                    if let Some(peer) = conversation.peer_of(&sender) {
                        to.push(peer.clone());
                    }
                    to.push(sender);
                }
                if !to.contains(by) {
                    to.push(by.clone());
                }
                out.extend(to.into_iter().map(|to| Notification {
                    to,
                    kind: NotificationKind::MessageRecalled {
                        conversation: conversation.clone(),
                        message: *message,
                        by: by.clone(),
                    },
                }));
            }
            EventBody::ConversationAckedUpTo {
                conversation,
                reader,
                up_to,
            } => {
                out.extend(conversation.peer_of(reader).map(|peer| Notification {
                    to: peer.clone(),
                    kind: NotificationKind::ConversationReadUpTo {
                        conversation: conversation.clone(),
                        by: reader.clone(),
                        up_to: *up_to,
                    },
                }));
                out.push(read_sync(conversation, reader));
            }
            EventBody::ConversationMarkedReadUpTo {
                conversation,
                reader,
                ..
            } => out.push(read_sync(conversation, reader)),
            EventBody::EarlyAckDropped {
                conversation,
                message,
                reader,
                reason,
            } => out.push(Notification {
                to: reader.clone(),
                kind: NotificationKind::EarlyAckDropped {
                    conversation: conversation.clone(),
                    message: *message,
                    reason: *reason,
                },
            }),
            EventBody::ReadAckBuffered { .. } => {}
            EventBody::UsersMentioned {
                conversation,
                message,
                users,
                ..
            } => {
                if let Some(by) = sender_of(message) {
                    out.extend(users.iter().map(|to| Notification {
                        to: to.clone(),
                        kind: NotificationKind::Mentioned {
                            conversation: conversation.clone(),
                            message: *message,
                            by: by.clone(),
                        },
                    }));
                }
            }
            EventBody::NotificationModeChanged {
                conversation,
                user,
                mode,
            } => out.push(Notification {
                to: user.clone(),
                kind: NotificationKind::NotificationModeChanged {
                    conversation: conversation.clone(),
                    mode: *mode,
                },
            }),
            EventBody::ThreadFollowChanged {
                conversation,
                root,
                user,
                following,
            } => out.push(Notification {
                to: user.clone(),
                kind: NotificationKind::ThreadFollowChanged {
                    conversation: conversation.clone(),
                    root: *root,
                    following: *following,
                },
            }),
            EventBody::ThreadRead {
                conversation,
                root,
                reader,
                ..
            } => out.push(Notification {
                to: reader.clone(),
                kind: NotificationKind::ThreadRead {
                    conversation: conversation.clone(),
                    root: *root,
                },
            }),
            // Replies reach followers the way messages reach members: by the service.
            EventBody::ThreadReplySent { .. }
            | EventBody::MessageSent { .. }
            | EventBody::MemberJoined { .. }
            | EventBody::MemberLeft { .. }
            | EventBody::MemberRoleChanged { .. } => {}
        }
        out
    }
}
