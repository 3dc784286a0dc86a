//! A seeded, realistic chat workload: Zipf-skewed conversation popularity, direct chats and
//! groups of 2 to 3000 members (some above the 200-member cap), and a mix of sends,
//! deliveries, read acks, conversation acks, group acks, mark-reads, joins and leaves.
//!
//! The same seed and size always give the same command sequence. The generator only tracks
//! what a client would know (who is in which conversation, recent messages), so some commands
//! are rejected by the engine, as some client requests are in real life.

#![warn(missing_docs)]

/// The kill -9 harness of the crash tests.
pub mod crash;
/// A small tmpfs for disk-full tests, and the copies an open leaves beside a store.
pub mod disk;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Zipf};
use receipt_domain::{
    Command, CommandId, CommandKind, ConversationId, GroupId, MessageId, NotificationMode, Policy,
    Role, UserId,
};
use rustc_hash::FxHashSet;
use uuid::Uuid;

/// Sizes and shape of a workload.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadConfig {
    /// Seed of the generator: the same seed and size give the same commands.
    pub seed: u64,
    /// Commands generated after the setup joins.
    pub commands: u64,
    /// Users in the workload.
    pub users: u32,
    /// Groups in the workload.
    pub groups: u32,
    /// Direct chats in the workload.
    pub direct_chats: u32,
    /// Zipf exponent of conversation popularity.
    pub zipf_exponent: f64,
    /// The group size above which the engine's policy declines group acks (to aim acks well).
    pub max_group_size: u32,
    /// Time of the first command, in milliseconds since the Unix epoch.
    pub start_ms: u64,
}

impl WorkloadConfig {
    /// A workload of about `commands` commands, with users, groups and chats scaled to it.
    pub fn sized(commands: u64, seed: u64) -> Self {
        let users = u32::try_from((commands / 100).clamp(3_200, 1_000_000)).unwrap_or(1_000_000);
        Self {
            seed,
            commands,
            users,
            groups: u32::try_from((commands / 5_000).clamp(6, 2_000)).unwrap_or(2_000),
            direct_chats: u32::try_from((commands / 20).clamp(50, 2_000_000)).unwrap_or(2_000_000),
            zipf_exponent: 1.1,
            max_group_size: Policy::default().max_group_size,
            start_ms: 1_767_225_600_000, // 2026-01-01
        }
    }

    /// Seconds-long: for CI smoke runs and tests.
    pub fn quick(seed: u64) -> Self {
        Self::sized(20_000, seed)
    }

    /// The policy this workload is meant to run under: every receipt switched on.
    pub fn policy(&self) -> Policy {
        Policy::all_receipts_on()
            .with_max_group_size(self.max_group_size)
            .with_max_members_per_command(SETUP_MEMBERS_PER_COMMAND)
            .with_max_messages_per_ack(BATCH_ACK_MAX)
    }
}

struct Recent {
    message: MessageId,
    sender: u32,
    /// Sent with group acks that the policy will honour (as far as the client can tell).
    acks: bool,
}

struct Conversation {
    id: ConversationId,
    /// Direct: the two users; group: the current members.
    members: Vec<u32>,
    is_member: FxHashSet<u32>,
    recent: Vec<Recent>,
}

const RECENT: usize = 16;
/// Members named per setup command: a group is created with its owner and up to this many
/// members, and the rest are added this many at a time.
const SETUP_MEMBERS_PER_COMMAND: u32 = 500;
/// Most messages one batch read ack of the mix names (a screenful).
const BATCH_ACK_MAX: u32 = 5;

/// The generator: an iterator of commands (setup joins first, then the mix).
pub struct Workload {
    config: WorkloadConfig,
    rng: Xoshiro256PlusPlus,
    /// Popularity among groups (indexes `0..groups`) and among direct chats (the rest).
    group_zipf: Zipf<f64>,
    direct_zipf: Zipf<f64>,
    users: Vec<UserId>,
    conversations: Vec<Conversation>,
    /// Setup commands still to emit: (conversation index, members from, members to); the
    /// chunk starting at 0 creates the group (member 0 is the owner).
    setup: Vec<(u32, u32, u32)>,
    /// A send that reordered delivery put behind its own read ack: emitted next.
    delayed_send: Option<CommandKind>,
    emitted: u64,
    next_id: u64,
    now_ms: u64,
}

fn group_size(rng: &mut Xoshiro256PlusPlus, users: u32) -> u32 {
    let size = match rng.random_range(0..100) {
        0..60 => rng.random_range(2..=20),
        60..85 => rng.random_range(21..=200),
        85..95 => rng.random_range(201..=1000),
        _ => rng.random_range(1001..=3000),
    };
    size.min(users)
}

/// The messages a batch read ack names: `message`, then the other recent messages `reader`
/// did not send (and, in a group, that were sent with group acks), up to `BATCH_ACK_MAX`.
fn batch(c: &Conversation, message: MessageId, reader: u32) -> Vec<MessageId> {
    let group = c.id.is_group();
    std::iter::once(message)
        .chain(
            c.recent
                .iter()
                .rev()
                .filter(|r| r.sender != reader && r.message != message && (!group || r.acks))
                .map(|r| r.message),
        )
        .take(BATCH_ACK_MAX as usize)
        .collect()
}

impl Workload {
    /// The generator of `config`'s workload.
    pub fn new(config: WorkloadConfig) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
        let users: Vec<UserId> = (0..config.users.max(2))
            .map(|i| UserId::new(format!("user{i}")).expect("generated ids are valid"))
            .collect();
        let n = users.len() as u32;
        let mut conversations = Vec::new();
        for g in 0..config.groups {
            // Group 0 is always the largest kind (3000 members, far above the cap).
            let size = if g == 0 {
                3_000.min(n)
            } else {
                group_size(&mut rng, n)
            };
            let mut members = Vec::new();
            let mut is_member = FxHashSet::default();
            while (members.len() as u32) < size {
                let u = rng.random_range(0..n);
                if is_member.insert(u) {
                    members.push(u);
                }
            }
            conversations.push(Conversation {
                id: ConversationId::Group(GroupId::new(format!("group{g}")).expect("valid")),
                members,
                is_member,
                recent: Vec::new(),
            });
        }
        for _ in 0..config.direct_chats {
            let a = rng.random_range(0..n);
            let b = (a + rng.random_range(1..n)) % n;
            conversations.push(Conversation {
                id: ConversationId::direct(users[a as usize].clone(), users[b as usize].clone())
                    .expect("distinct"),
                members: vec![a, b],
                is_member: [a, b].into_iter().collect(),
                recent: Vec::new(),
            });
        }
        // Popularity ranks are shuffled within groups and within direct chats, so the most
        // popular group is not always the largest.
        let groups = config.groups as usize;
        for range in [0..groups, groups..conversations.len()] {
            for i in (range.start + 1..range.end).rev() {
                let j = rng.random_range(range.start..=i);
                conversations.swap(i, j);
            }
        }
        let mut setup: Vec<(u32, u32, u32)> = Vec::new();
        for (i, c) in conversations.iter().enumerate() {
            if c.id.is_group() {
                let n = c.members.len() as u32;
                // The owner plus a full chunk of members, then chunks of members.
                let mut from = 0;
                let mut to = n.min(SETUP_MEMBERS_PER_COMMAND + 1);
                while from < n {
                    setup.push((i as u32, from, to));
                    from = to;
                    to = n.min(from + SETUP_MEMBERS_PER_COMMAND);
                }
            }
        }
        setup.reverse(); // popped from the end: emitted in conversation order
        let zipf = |count: usize| {
            Zipf::new(count.max(1) as f64, config.zipf_exponent).expect("n >= 1 and exponent > 0")
        };
        Self {
            group_zipf: zipf(groups),
            direct_zipf: zipf(conversations.len() - groups),
            now_ms: config.start_ms,
            config,
            rng,
            users,
            conversations,
            setup,
            delayed_send: None,
            emitted: 0,
            next_id: 0,
        }
    }

    /// The configuration this generator follows.
    pub fn config(&self) -> &WorkloadConfig {
        &self.config
    }

    /// Number of setup commands (groups created with their rosters, members added in bulk)
    /// emitted before the mix.
    pub fn setup_commands(&self) -> usize {
        self.setup.len()
    }

    fn command(&mut self, kind: CommandKind) -> Command {
        self.next_id += 1;
        Command {
            id: CommandId(self.v7(0, self.next_id)),
            at_ms: self.now_ms,
            kind,
        }
    }

    /// A UUID v7 stamped with the workload's clock, unique by (`tag`, counter) and the same for
    /// the same seed: ids like those a client sends (v7 is what the README recommends).
    fn v7(&self, tag: u8, n: u64) -> Uuid {
        let mut bytes = [0u8; 10];
        bytes[0] = tag;
        bytes[1] = self.config.seed as u8;
        bytes[2..].copy_from_slice(&n.to_be_bytes());
        uuid::Builder::from_unix_timestamp_millis(self.now_ms, &bytes).into_uuid()
    }

    fn user(&self, u: u32) -> UserId {
        self.users[u as usize].clone()
    }

    fn next_mix(&mut self) -> CommandKind {
        self.now_ms += self.rng.random_range(0..200);
        // Half of the traffic goes to groups, half to direct chats.
        let groups = self.config.groups as usize;
        let to_group =
            groups > 0 && (groups == self.conversations.len() || self.rng.random_bool(0.5));
        let ci = if to_group {
            (self.group_zipf.sample(&mut self.rng) as usize)
                .saturating_sub(1)
                .min(groups - 1)
        } else {
            groups
                + (self.direct_zipf.sample(&mut self.rng) as usize)
                    .saturating_sub(1)
                    .min(self.conversations.len() - groups - 1)
        };
        let roll = self.rng.random_range(0..100u32);
        let c = &self.conversations[ci];
        let group = c.id.is_group();
        let pick_recent =
            |rng: &mut Xoshiro256PlusPlus, c: &Conversation| -> Option<(MessageId, u32, bool)> {
                (!c.recent.is_empty()).then(|| {
                    let r = &c.recent[rng.random_range(0..c.recent.len())];
                    (r.message, r.sender, r.acks)
                })
            };
        let send_share = if group { 40 } else { 45 };
        let send = roll < send_share || c.recent.is_empty();
        if send {
            if c.members.is_empty() {
                return self.join(ci);
            }
            let sender = c.members[self.rng.random_range(0..c.members.len())];
            let needs_group_ack = group && self.rng.random_bool(0.5);
            let acks = needs_group_ack && c.members.len() as u32 <= self.config.max_group_size;
            self.next_id += 1;
            let message = MessageId(self.v7(1, self.next_id));
            let conversation = c.id.clone();
            let c = &mut self.conversations[ci];
            if c.recent.len() == RECENT {
                c.recent.remove(0);
            }
            c.recent.push(Recent {
                message,
                sender,
                acks,
            });
            // One group message in ten mentions members by name, one in fifty everyone.
            if group && self.rng.random_bool(0.12) {
                let c = &self.conversations[ci];
                let named: Vec<u32> = (0..2)
                    .map(|_| c.members[self.rng.random_range(0..c.members.len())])
                    .filter(|&m| m != sender)
                    .collect();
                let mention_all = self.rng.random_bool(1.0 / 6.0);
                return CommandKind::SendMessageMentioning {
                    conversation,
                    message,
                    sender: self.user(sender),
                    needs_group_ack,
                    mentions: named.into_iter().map(|m| self.user(m)).collect(),
                    mention_all,
                };
            }
            let send = CommandKind::SendMessage {
                conversation: conversation.clone(),
                message,
                sender: self.user(sender),
                needs_group_ack,
            };
            // Reordered delivery: one direct message in twenty has its read ack arrive first.
            if !group && self.rng.random_bool(0.05) {
                let c = &self.conversations[ci];
                let peer = if c.members[0] == sender {
                    c.members[1]
                } else {
                    c.members[0]
                };
                self.delayed_send = Some(send);
                return CommandKind::AckMessageReadIn {
                    conversation,
                    message,
                    reader: self.user(peer),
                };
            }
            return send;
        }
        let Some((message, sender, acks)) = pick_recent(&mut self.rng, c) else {
            return self.join(ci);
        };
        if !group {
            let peer = if c.members[0] == sender {
                c.members[1]
            } else {
                c.members[0]
            };
            let reader = self.user(peer);
            let conversation = c.id.clone();
            if roll == 95 {
                return self.recall(ci, message, sender);
            }
            return match roll {
                45..65 => CommandKind::Deliver {
                    message,
                    recipient: reader,
                },
                65..75 => CommandKind::AckMessageRead { message, reader },
                75..80 => CommandKind::AckMessagesRead {
                    messages: batch(c, message, peer),
                    conversation,
                    reader,
                },
                80..85 => CommandKind::AckConversationRead {
                    conversation,
                    reader,
                },
                85..88 => CommandKind::AckConversationReadUpTo {
                    conversation,
                    reader,
                    up_to: message,
                },
                88..95 => CommandKind::MarkMessageRead { message, reader },
                _ => CommandKind::MarkConversationRead {
                    conversation,
                    reader,
                },
            };
        }
        let member = c.members[self.rng.random_range(0..c.members.len())];
        let conversation = c.id.clone();
        match roll {
            40..72 if acks && member != sender => CommandKind::AckGroupMessageRead {
                message,
                reader: self.user(member),
            },
            72..80 if acks && member != sender => CommandKind::AckMessagesRead {
                messages: batch(c, message, member),
                conversation,
                reader: self.user(member),
            },
            // Threads: replies to a recent message, follows, reads of a thread.
            84..86 => {
                self.next_id += 1;
                CommandKind::SendThreadReply {
                    conversation,
                    root: message,
                    message: MessageId(self.v7(1, self.next_id)),
                    sender: self.user(member),
                }
            }
            86 => CommandKind::FollowThread {
                conversation,
                root: message,
                user: self.user(member),
            },
            87 => CommandKind::MarkThreadRead {
                conversation,
                root: message,
                reader: self.user(member),
            },
            40..84 => CommandKind::MarkMessageRead {
                message,
                reader: self.user(member),
            },
            88..92 => CommandKind::MarkConversationRead {
                conversation,
                reader: self.user(member),
            },
            92..95 => CommandKind::MarkConversationReadUpTo {
                conversation,
                reader: self.user(member),
                up_to: message,
            },
            95..97 => self.join(ci),
            97 => self.recall(ci, message, sender),
            98 => CommandKind::SetNotificationMode {
                conversation,
                user: self.user(member),
                mode: match self.rng.random_range(0..3) {
                    0 => NotificationMode::All,
                    1 => NotificationMode::MentionsOnly,
                    _ => NotificationMode::Muted,
                },
            },
            _ => self.leave(ci),
        }
    }

    /// The sender recalls one of the recent messages (refused when it is past the window):
    /// it leaves the recent list, so nothing acks it afterwards.
    fn recall(&mut self, ci: usize, message: MessageId, sender: u32) -> CommandKind {
        self.conversations[ci]
            .recent
            .retain(|r| r.message != message);
        CommandKind::RecallMessage {
            message,
            by: self.user(sender),
        }
    }

    fn join(&mut self, ci: usize) -> CommandKind {
        let n = self.users.len() as u32;
        let u = self.rng.random_range(0..n);
        let c = &mut self.conversations[ci];
        let ConversationId::Group(group) = c.id.clone() else {
            // Direct chats have no roster: opening the chat instead.
            let reader = self.users[c.members[0] as usize].clone();
            return CommandKind::MarkConversationRead {
                conversation: c.id.clone(),
                reader,
            };
        };
        if c.is_member.insert(u) {
            c.members.push(u);
        }
        CommandKind::JoinGroup {
            group,
            user: self.user(u),
            role: Role::Member,
        }
    }

    fn leave(&mut self, ci: usize) -> CommandKind {
        let c = &mut self.conversations[ci];
        let ConversationId::Group(group) = c.id.clone() else {
            return self.join(ci);
        };
        // The first member is the owner and stays, so groups never empty out.
        if c.members.len() < 2 {
            return self.join(ci);
        }
        let i = self.rng.random_range(1..c.members.len());
        let u = c.members.swap_remove(i);
        c.is_member.remove(&u);
        CommandKind::LeaveGroup {
            group,
            user: self.user(u),
        }
    }
}

impl Iterator for Workload {
    type Item = Command;

    fn next(&mut self) -> Option<Command> {
        if let Some(kind) = self.delayed_send.take() {
            return Some(self.command(kind));
        }
        if let Some((ci, from, to)) = self.setup.pop() {
            let c = &self.conversations[ci as usize];
            let ConversationId::Group(group) = c.id.clone() else {
                return None; // setup only holds groups
            };
            let named = |range: std::ops::Range<u32>| -> Vec<UserId> {
                range.map(|m| self.user(c.members[m as usize])).collect()
            };
            let kind = if from == 0 {
                CommandKind::CreateGroup {
                    group,
                    owner: self.user(c.members[0]),
                    members: named(1..to),
                }
            } else {
                CommandKind::AddMembers {
                    group,
                    users: named(from..to),
                    role: Role::Member,
                }
            };
            return Some(self.command(kind));
        }
        if self.emitted >= self.config.commands {
            return None;
        }
        self.emitted += 1;
        let kind = self.next_mix();
        Some(self.command(kind))
    }
}

// The workload's own tests: determinism, and that every kind of command it promises appears.
#[cfg(test)]
mod tests;
