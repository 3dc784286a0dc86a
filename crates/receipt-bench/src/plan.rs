//! The workload every store is fed: seeded commands, each with the reference decision (its
//! events, or a rejection), the state they fold into, and how they are split between the
//! timed phases and the client threads.

use receipt_domain::{decide, Command, CommandKind, ConversationId, Event, MessageId, State};
use receipt_workload::{Workload, WorkloadConfig};
use rustc_hash::FxHashMap;
use std::hash::{Hash, Hasher};

/// One command with the reference's answer.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The command, with the workload's id and time.
    pub command: Command,
    /// `Some(events)` when accepted (empty for an accepted no-op), `None` when rejected.
    pub events: Option<Vec<Event>>,
    /// The conversation whose state decides the command (`None`: a message nobody sent).
    pub conversation: Option<ConversationId>,
}

/// The workload, decided once by the domain: the reference every store is checked against.
pub struct Plan {
    /// The workload's configuration.
    pub config: WorkloadConfig,
    /// Every command, in workload order.
    pub commands: Vec<Planned>,
    /// The reference state: every accepted event folded.
    pub state: State,
    /// Accepted events in total.
    pub events: u64,
}

/// The conversation a command's decision depends on: commands of one conversation must keep
/// their order; commands of different conversations never affect each other's decisions.
fn conversation_of(
    kind: &CommandKind,
    sent_in: &FxHashMap<MessageId, ConversationId>,
) -> Option<ConversationId> {
    kind.named_conversation()
        .or_else(|| kind.named_message().and_then(|m| sent_in.get(&m).cloned()))
}

impl Plan {
    /// Decides the workload `config` until `max_events` events are accepted (or it ends).
    pub fn decide(config: &WorkloadConfig, max_events: Option<u64>) -> Self {
        let policy = config.policy();
        let mut state = State::new();
        let mut commands = Vec::new();
        let mut sent_in: FxHashMap<MessageId, ConversationId> = FxHashMap::default();
        let mut events = 0u64;
        for command in Workload::new(config.clone()) {
            if max_events.is_some_and(|max| events >= max) {
                break;
            }
            let conversation = conversation_of(&command.kind, &sent_in);
            let decided = decide(&state, &policy, &command).ok();
            if let Some(d) = &decided {
                state.apply_decision(d);
                events += d.events.len() as u64;
                for e in &d.events {
                    if let receipt_domain::EventBody::MessageSent {
                        conversation,
                        message,
                        ..
                    } = &e.body
                    {
                        sent_in.insert(*message, conversation.clone());
                    }
                }
            }
            commands.push(Planned {
                command,
                events: decided.map(|d| d.events),
                conversation,
            });
        }
        Self {
            config: config.clone(),
            commands,
            state,
            events,
        }
    }

    /// Every accepted event, in order.
    pub fn all_events(&self) -> impl Iterator<Item = &Event> {
        self.commands
            .iter()
            .filter_map(|p| p.events.as_ref())
            .flatten()
    }
}

/// Accepted events of some planned commands.
pub fn events_in(commands: &[Planned]) -> u64 {
    commands
        .iter()
        .filter_map(|p| p.events.as_ref())
        .map(|e| e.len() as u64)
        .sum()
}

/// Consecutive runs of commands holding about `events` accepted events each.
pub fn batches(commands: &[Planned], events: u64) -> Vec<&[Planned]> {
    let mut out = Vec::new();
    let (mut start, mut n) = (0, 0u64);
    for (i, p) in commands.iter().enumerate() {
        n += p.events.as_ref().map_or(0, |e| e.len() as u64);
        if n >= events {
            out.push(&commands[start..=i]);
            start = i + 1;
            n = 0;
        }
    }
    if start < commands.len() {
        out.push(&commands[start..]);
    }
    out
}

/// The commands split over `threads` clients by conversation (a frozen hash), each client's
/// share in workload order: a service shards this way, and the decisions stay the reference's.
pub fn by_conversation(commands: &[Planned], threads: usize) -> Vec<Vec<Planned>> {
    let threads = threads.max(1);
    let mut parts = vec![Vec::new(); threads];
    for p in commands {
        let mut h = rustc_hash::FxHasher::default();
        p.conversation.hash(&mut h);
        parts[(h.finish() % threads as u64) as usize].push(p.clone());
    }
    parts
}

/// The three timed phases of one run, in workload order: the bulk in batches, then single
/// commands from one client, then commands from many clients.
pub struct Phases<'p> {
    /// Fed in batches of about 1,000 events.
    pub bulk: &'p [Planned],
    /// Fed one at a time from one client.
    pub single: &'p [Planned],
    /// Fed from many clients at once.
    pub concurrent: &'p [Planned],
}

impl Plan {
    /// Splits the plan: the last `concurrent` commands for the many-client phase, the
    /// `single` before them for the one-client phase, everything earlier for the bulk.
    pub fn phases(&self, single: usize, concurrent: usize) -> Phases<'_> {
        let n = self.commands.len();
        let concurrent = concurrent.min(n / 3);
        let single = single.min(n / 3);
        let (rest, concurrent_part) = self.commands.split_at(n - concurrent);
        let (bulk, single_part) = rest.split_at(rest.len() - single);
        Phases {
            bulk,
            single: single_part,
            concurrent: concurrent_part,
        }
    }
}
