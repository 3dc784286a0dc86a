//! The reference model of batch and bulk commands: exactly the single commands they stand for,
//! run one by one on a copy of the model, kept only if every one was accepted.

use super::{changed, no_op, Effect, Model, R};
use receipt_domain::*;
use std::collections::BTreeSet;

fn size<T>(items: &[T], min: usize, max: u32) -> Result<(), DomainError> {
    if items.len() < min || items.len() > max as usize {
        return Err(DomainError::BatchSize {
            count: items.len(),
            max,
        });
    }
    Ok(())
}

fn once<T: Ord + Clone>(items: &[T]) -> Vec<T> {
    let mut seen = BTreeSet::new();
    items
        .iter()
        .filter(|i| seen.insert((*i).clone()))
        .cloned()
        .collect()
}

/// The effects of the singles as one: a no-op if none changed anything.
fn combined(effects: Vec<Effect>) -> R {
    if effects.iter().all(|e| !e.changed) {
        return no_op();
    }
    changed(effects.into_iter().flat_map(|e| e.notifications).collect())
}

impl Model {
    /// Runs a batch or bulk command; `None` for any other kind.
    pub(super) fn exec_bulk(
        &mut self,
        policy: &Policy,
        at_ms: u64,
        cmd: &CommandKind,
    ) -> Option<R> {
        let mut copy = self.clone();
        let result = match cmd {
            CommandKind::AckMessagesRead {
                conversation,
                messages,
                reader,
            } => copy.ack_messages(policy, at_ms, conversation, messages, reader),
            CommandKind::CreateGroup {
                group,
                owner,
                members,
            } => copy.create_group(policy, at_ms, group, owner, members),
            CommandKind::AddMembers { group, users, role } => {
                copy.add_members(policy, at_ms, group, users, *role)
            }
            CommandKind::RemoveMembers { group, users } => (|| {
                size(users, 1, policy.max_members_per_command)?;
                let mut effects = Vec::new();
                for user in once(users) {
                    effects.push(copy.exec(
                        policy,
                        at_ms,
                        &CommandKind::LeaveGroup {
                            group: group.clone(),
                            user,
                        },
                    )?);
                }
                combined(effects)
            })(),
            _ => return None,
        };
        if result.is_ok() {
            *self = copy;
        }
        Some(result)
    }

    fn ack_messages(
        &mut self,
        policy: &Policy,
        at_ms: u64,
        conversation: &ConversationId,
        messages: &[MessageId],
        reader: &UserId,
    ) -> R {
        size(messages, 1, policy.max_messages_per_ack)?;
        let mut effects = Vec::new();
        for message in once(messages) {
            self.located(message, conversation)?;
            let single = Self::single_ack(conversation, message, reader);
            effects.push(self.exec(policy, at_ms, &single)?);
        }
        combined(effects)
    }

    fn create_group(
        &mut self,
        policy: &Policy,
        at_ms: u64,
        group: &GroupId,
        owner: &UserId,
        members: &[UserId],
    ) -> R {
        size(members, 0, policy.max_members_per_command)?;
        if self.known(&ConversationId::Group(group.clone())) {
            return Err(DomainError::GroupExists(group.clone()));
        }
        let mut joins = vec![(owner.clone(), Role::Owner)];
        joins.extend(
            once(members)
                .into_iter()
                .filter(|u| u != owner)
                .map(|u| (u, Role::Member)),
        );
        let mut effects = Vec::new();
        for (user, role) in joins {
            effects.push(self.exec(
                policy,
                at_ms,
                &CommandKind::JoinGroup {
                    group: group.clone(),
                    user,
                    role,
                },
            )?);
        }
        combined(effects)
    }

    fn add_members(
        &mut self,
        policy: &Policy,
        at_ms: u64,
        group: &GroupId,
        users: &[UserId],
        role: Role,
    ) -> R {
        size(users, 1, policy.max_members_per_command)?;
        let mut effects = Vec::new();
        for user in once(users) {
            if self.is_member(group, &user) {
                continue; // a current member keeps their role
            }
            effects.push(self.exec(
                policy,
                at_ms,
                &CommandKind::JoinGroup {
                    group: group.clone(),
                    user,
                    role,
                },
            )?);
        }
        combined(effects)
    }
}
