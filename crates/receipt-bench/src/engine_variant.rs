//! This engine: the sled event log (flush per commit) plus the in-memory projections.

use crate::{Result, Variant};
use receipt_domain::{ConversationId, Event, MessageId, State, UserId};
use receipt_store::{AppendRequest, Backend, Durability, SledLog};
use std::path::PathBuf;

pub struct EngineVariant {
    dir: PathBuf,
    durability: Durability,
    log: Option<SledLog>,
    state: State,
    /// Take a snapshot before reopening, so the reopen folds only the tail.
    pub snapshot_on_reopen: bool,
}

impl EngineVariant {
    pub fn open(dir: PathBuf, durability: Durability) -> Result<Self> {
        let log = SledLog::open_dir(&dir, durability)?;
        Ok(Self {
            dir,
            durability,
            log: Some(log),
            state: State::new(),
            snapshot_on_reopen: false,
        })
    }

    pub fn log(&self) -> Result<&SledLog> {
        self.log.as_ref().ok_or_else(|| "log closed".into())
    }

    pub fn state(&self) -> &State {
        &self.state
    }
}

impl Variant for EngineVariant {
    fn name(&self) -> &'static str {
        "engine (sled)"
    }

    fn commit(&mut self, decisions: &[Vec<Event>]) -> Result {
        let log = self.log()?;
        let mut planned = std::collections::HashMap::new();
        let mut requests = Vec::with_capacity(decisions.len());
        for events in decisions {
            let conversation = events[0].body.conversation();
            let version = match planned.get(&conversation) {
                Some(&v) => v,
                None => log.version(&conversation)?,
            };
            planned.insert(conversation.clone(), version + events.len() as u64);
            requests.push(AppendRequest {
                conversation,
                expected_version: version,
                events: events.clone(),
            });
        }
        log.append_batch(&requests)?;
        for events in decisions {
            for e in events {
                self.state.apply(e);
            }
        }
        Ok(())
    }

    fn reopen(&mut self) -> Result {
        if let Some(log) = self.log.take() {
            if self.snapshot_on_reopen {
                log.save_snapshot(log.head(), &self.state)?;
            }
            log.flush()?;
        }
        let log = SledLog::open_dir(&self.dir, self.durability)?;
        let (_, state) = log.recover()?;
        self.state = state;
        self.log = Some(log);
        Ok(())
    }

    fn unread(&self, user: &UserId, conversation: &ConversationId) -> Result<u32> {
        Ok(self.state.unread_count(user, conversation))
    }

    fn group_ack_count(&self, message: &MessageId) -> Result<u32> {
        crate::ack_count_in(&self.state, message)
    }

    fn disk_bytes(&self) -> u64 {
        self.log.as_ref().map_or(0, |l| l.backend().size_bytes())
    }
}
