//! This engine, through the API a service calls: `Engine::execute_command` from each client
//! thread, `Engine::execute_batch` for a batch; group commit, so a commit is sled's flush plus
//! `fdatasync` of the data and of the acknowledgement ledger.

use crate::check::check_projections;
use crate::plan::{Plan, Planned};
use crate::stores::{Client, Store};
use crate::Result;
use receipt_domain::{ConversationId, MessageId, Policy, UserId};
use receipt_engine::{Durability, Engine, EngineError, EngineOptions, Outcome};
use std::path::Path;

pub struct EngineStore {
    engine: Engine,
}

/// The engine's options in every benchmark: group commit and the default snapshot interval,
/// as a service would run it.
pub fn options(policy: Policy) -> EngineOptions {
    EngineOptions::default()
        .with_policy(policy)
        .with_durability(Durability::GroupCommit)
}

impl EngineStore {
    pub fn open(dir: &Path, policy: Policy) -> Result<Self> {
        Ok(Self {
            engine: Engine::open(dir.join("engine"), options(policy))?,
        })
    }
}

/// The engine must decide exactly as the reference did.
fn agrees(p: &Planned, got: &std::result::Result<Outcome, EngineError>) -> Result {
    match (got, &p.events) {
        (Ok(o), Some(events)) if &o.events == events => Ok(()),
        (Err(EngineError::Rejected(_)), None) => Ok(()),
        (Err(e), _) if !matches!(e, EngineError::Rejected(_)) => {
            Err(format!("{:?}: {e}", p.command.kind).into())
        }
        _ => Err(format!(
            "the engine decided {:?} differently from the reference: {:?}",
            p.command.kind,
            got.as_ref().map(|o| o.events.len())
        )
        .into()),
    }
}

struct EngineClient<'e>(&'e Engine);

impl Client for EngineClient<'_> {
    fn command(&mut self, p: &Planned) -> Result {
        agrees(p, &self.0.execute_command(p.command.clone()))
    }
}

impl Store for EngineStore {
    fn client(&self) -> Result<Box<dyn Client + '_>> {
        Ok(Box::new(EngineClient(&self.engine)))
    }

    fn batch(&self, commands: &[Planned]) -> Result {
        let answers = self
            .engine
            .execute_batch(commands.iter().map(|p| p.command.clone()).collect())?;
        for (p, got) in commands.iter().zip(&answers) {
            agrees(p, got)?;
        }
        Ok(())
    }

    fn unread(&self, user: &UserId, conversation: &ConversationId) -> Result<Option<u32>> {
        Ok(Some(self.engine.unread_count(user, conversation)?))
    }

    fn group_ack_count(&self, message: &MessageId) -> Result<Option<u32>> {
        self.engine
            .with_message_partition(*message, |state, _| {
                crate::check::ack_count_in(state, message)
            })?
            .map(Some)
    }

    fn verify(&self, plan: &Plan) -> Result {
        check_projections(self, plan, usize::MAX)
    }

    fn close(self: Box<Self>) -> Result {
        self.engine.flush()?;
        Ok(())
    }
}
