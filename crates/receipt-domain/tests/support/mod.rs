//! Shared test harness: a tiny world with a state, a policy, a clock and the event history.
#![allow(dead_code)] // Each test file uses a different part of the harness.

pub mod model;

use receipt_domain::*;
use uuid::Uuid;

pub fn user(s: &str) -> UserId {
    UserId::new(s).expect("test user ids are valid")
}

pub fn group(s: &str) -> GroupId {
    GroupId::new(s).expect("test group ids are valid")
}

/// Message ids in tests are small numbers inside a UUID.
pub fn msg(n: u128) -> MessageId {
    MessageId(Uuid::from_u128(0x1000 + n))
}

pub fn direct(a: &str, b: &str) -> ConversationId {
    ConversationId::direct(user(a), user(b)).expect("distinct users")
}

pub fn gconv(g: &str) -> ConversationId {
    ConversationId::Group(group(g))
}

pub struct World {
    pub state: State,
    pub policy: Policy,
    pub now_ms: u64,
    pub history: Vec<Event>,
    next_command: u128,
}

/// What a successful command returned, with the notifications its events produced.
#[derive(Debug)]
pub struct Outcome {
    pub decision: Decision,
    pub notifications: Vec<Notification>,
}

impl World {
    pub fn new(policy: Policy) -> Self {
        Self {
            state: State::new(),
            policy,
            now_ms: 1_000_000,
            history: Vec::new(),
            next_command: 1 << 64,
        }
    }

    pub fn advance(&mut self, ms: u64) {
        self.now_ms += ms;
    }

    /// Moves the clock back (a command stamped by a clock behind the one that sent earlier).
    pub fn rewind(&mut self, ms: u64) {
        self.now_ms -= ms;
    }

    pub fn run(&mut self, kind: CommandKind) -> Result<Outcome, DomainError> {
        self.next_command += 1 << 16;
        let command = Command {
            id: CommandId(Uuid::from_u128(self.next_command)),
            at_ms: self.now_ms,
            kind,
        };
        let decision = decide(&self.state, &self.policy, &command)?;
        let mut notifications = Vec::new();
        for e in &decision.events {
            assert_eq!(e.at_ms, self.now_ms, "events carry the command's time");
            self.state.apply(e);
            notifications.extend(self.state.notifications_for(e));
            self.history.push(e.clone());
        }
        Ok(Outcome {
            decision,
            notifications,
        })
    }

    // Shorthands named after the SDK calls.

    pub fn join(&mut self, g: &str, u: &str, role: Role) -> Result<Outcome, DomainError> {
        self.run(CommandKind::JoinGroup {
            group: group(g),
            user: user(u),
            role,
        })
    }

    pub fn leave(&mut self, g: &str, u: &str) -> Result<Outcome, DomainError> {
        self.run(CommandKind::LeaveGroup {
            group: group(g),
            user: user(u),
        })
    }

    pub fn send(
        &mut self,
        c: ConversationId,
        m: u128,
        from: &str,
        needs_group_ack: bool,
    ) -> Result<Outcome, DomainError> {
        self.run(CommandKind::SendMessage {
            conversation: c,
            message: msg(m),
            sender: user(from),
            needs_group_ack,
        })
    }

    pub fn deliver(&mut self, m: u128, to: &str) -> Result<Outcome, DomainError> {
        self.run(CommandKind::Deliver {
            message: msg(m),
            recipient: user(to),
        })
    }

    pub fn ack(&mut self, m: u128, by: &str) -> Result<Outcome, DomainError> {
        self.run(CommandKind::AckMessageRead {
            message: msg(m),
            reader: user(by),
        })
    }

    pub fn ack_conversation(
        &mut self,
        c: ConversationId,
        by: &str,
    ) -> Result<Outcome, DomainError> {
        self.run(CommandKind::AckConversationRead {
            conversation: c,
            reader: user(by),
        })
    }

    pub fn group_ack(&mut self, m: u128, by: &str) -> Result<Outcome, DomainError> {
        self.run(CommandKind::AckGroupMessageRead {
            message: msg(m),
            reader: user(by),
        })
    }

    pub fn mark(&mut self, m: u128, by: &str) -> Result<Outcome, DomainError> {
        self.run(CommandKind::MarkMessageRead {
            message: msg(m),
            reader: user(by),
        })
    }

    pub fn mark_all(&mut self, c: ConversationId, by: &str) -> Result<Outcome, DomainError> {
        self.run(CommandKind::MarkConversationRead {
            conversation: c,
            reader: user(by),
        })
    }

    pub fn unread(&self, u: &str, c: &ConversationId) -> u32 {
        self.state.unread_count(&user(u), c)
    }

    pub fn status(&self, viewer: &str, m: u128) -> Result<MessageStatus, QueryError> {
        self.state
            .message_status(&self.policy, &user(viewer), &msg(m))
    }

    pub fn ack_count(&self, viewer: &str, m: u128) -> Result<u32, QueryError> {
        self.state
            .group_ack_count(&self.policy, &user(viewer), &msg(m))
    }

    /// Asserts the incremental state equals a rebuild from the history, and is internally sound.
    pub fn assert_replay_matches(&self) {
        self.state.check_invariants().expect("invariants hold");
        assert_eq!(
            State::from_events(&self.history),
            self.state,
            "replay differs"
        );
    }
}
