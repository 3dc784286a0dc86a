//! The reference model of mentions and notification modes: a message records whom it
//! mentions; a mention counts while its message is unread for the user and not recalled.

use super::{changed, no_op, Model, R};
use receipt_domain::*;
use std::collections::BTreeSet;

impl Model {
    /// Runs a send with mentions or a notification-mode change; `None` for any other kind.
    pub(super) fn exec_mention(
        &mut self,
        policy: &Policy,
        at_ms: u64,
        cmd: &CommandKind,
    ) -> Option<R> {
        match cmd {
            CommandKind::SendMessageMentioning {
                conversation,
                message,
                sender,
                needs_group_ack,
                mentions,
                mention_all,
            } => {
                let mut copy = self.clone();
                let result = (|| {
                    let sent = copy.exec(
                        policy,
                        at_ms,
                        &CommandKind::SendMessage {
                            conversation: conversation.clone(),
                            message: *message,
                            sender: sender.clone(),
                            needs_group_ack: *needs_group_ack,
                        },
                    )?;
                    if !sent.changed {
                        return Ok(sent); // a repeated send
                    }
                    if mentions.len() > policy.max_members_per_command as usize {
                        return Err(DomainError::BatchSize {
                            count: mentions.len(),
                            max: policy.max_members_per_command,
                        });
                    }
                    let mut seen = BTreeSet::new();
                    let named: Vec<UserId> = mentions
                        .iter()
                        .filter(|u| seen.insert((*u).clone()))
                        .cloned()
                        .collect();
                    let m = copy.msgs.get_mut(message).expect("just sent");
                    for u in &named {
                        if !m.recipients.contains(u) {
                            return Err(DomainError::NotARecipient {
                                user: u.clone(),
                                message: *message,
                            });
                        }
                    }
                    m.mentions = named.iter().cloned().collect();
                    m.mention_all = *mention_all;
                    let mut notifications = sent.notifications;
                    notifications.extend(named.into_iter().map(|to| Notification {
                        to,
                        kind: NotificationKind::Mentioned {
                            conversation: conversation.clone(),
                            message: *message,
                            by: sender.clone(),
                        },
                    }));
                    Ok(super::Effect {
                        notifications,
                        ..sent
                    })
                })();
                if result.is_ok() {
                    *self = copy;
                }
                Some(result)
            }
            CommandKind::SetNotificationMode {
                conversation,
                user,
                mode,
            } => Some(self.set_mode(conversation, user, *mode)),
            _ => None,
        }
    }

    fn set_mode(&mut self, c: &ConversationId, user: &UserId, mode: NotificationMode) -> R {
        self.participant_checks(c, user)?;
        if self.mode(user, c) == mode {
            return no_op();
        }
        self.modes.insert((user.clone(), c.clone()), mode);
        changed(vec![Notification {
            to: user.clone(),
            kind: NotificationKind::NotificationModeChanged {
                conversation: c.clone(),
                mode,
            },
        }])
    }

    /// How `u` hears of `c`.
    pub fn mode(&self, u: &UserId, c: &ConversationId) -> NotificationMode {
        self.modes
            .get(&(u.clone(), c.clone()))
            .copied()
            .unwrap_or_default()
    }

    /// Unread messages of `c` that mention `u`, by name or as everyone.
    pub fn mentions(&self, u: &UserId, c: &ConversationId) -> u32 {
        self.order
            .get(c)
            .into_iter()
            .flatten()
            .filter(|id| {
                let m = &self.msgs[*id];
                m.recipients.contains(u)
                    && !m.recalled
                    && (m.mention_all || m.mentions.contains(u))
                    && !self.read.contains(&(u.clone(), **id))
            })
            .count() as u32
    }
}
