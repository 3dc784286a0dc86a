//! One command's path: duplicate check, decide, the log of record's append (if any), the
//! log's write, the fold, the wait for durability and the publication (what the module doc
//! of src/engine.rs describes). The batch path is src/engine/batch.rs.

use super::locks::Reserved;
use super::{lock, read, repeated_outcome, Engine, Outcome};
use crate::error::EngineError;
use receipt_domain::{Command, CommandId, CommandKind, ConversationId, DomainError};
use receipt_store::{AppendRequest, Backend};
use rustc_hash::FxHashMap;
use uuid::Uuid;

impl<B: Backend> Engine<B> {
    /// Decides and records a command with a fresh id, stamped by the engine's clock.
    pub fn execute(&self, kind: CommandKind) -> Result<Outcome, EngineError> {
        self.execute_command(Command {
            id: CommandId(Uuid::now_v7()),
            at_ms: self.options.clock.now_ms(),
            kind,
        })
    }

    /// Decides and records a command whose id and time the caller chose.
    ///
    /// Idempotent by command id, over the whole history and across restarts: a command whose
    /// id was recorded before (its events, or its acceptance as a no-op) is answered with the
    /// original outcome ([`Outcome::repeated`]) and appends nothing, whatever happened since.
    /// A rejected command records nothing, so retrying it decides it again.
    ///
    /// A read ack refused because the store holds `Policy::max_early_acks_total` acks for
    /// messages not sent yet is decided again after the expired acks of every other
    /// conversation are dropped (each conversation's in its own `ExpireEarlyAcks` command).
    pub fn execute_command(&self, command: Command) -> Result<Outcome, EngineError> {
        match self.execute_once(&command, true) {
            Err(EngineError::Rejected(DomainError::EarlyAcksFull { .. })) => {
                let except = command.kind.named_conversation();
                self.drop_expired_early_acks(command.at_ms, except.as_ref())?;
                self.execute_once(&command, true)
            }
            decided => decided,
        }
    }

    /// Drops the held read acks past their time to live at `at_ms` in every conversation
    /// holding some (but `except`), one `ExpireEarlyAcks` command per conversation that has
    /// expired ones. Returns how many acks were dropped.
    pub(crate) fn drop_expired_early_acks(
        &self,
        at_ms: u64,
        except: Option<&ConversationId>,
    ) -> Result<usize, EngineError> {
        let holding: Vec<ConversationId> = lock(&self.shared.projections)
            .held
            .conversations()
            .map(|(c, _)| c.clone())
            .filter(|c| Some(c) != except)
            .collect();
        let mut dropped = 0;
        for conversation in holding {
            let sweep = Command {
                id: CommandId(Uuid::now_v7()),
                at_ms,
                kind: CommandKind::ExpireEarlyAcks { conversation },
            };
            // Nothing expired there: nothing to record (the engine's own command, never
            // retried by a caller).
            dropped += self.execute_once(&sweep, false)?.events.len();
        }
        Ok(dropped)
    }

    /// One decision of `command`; `record_noops`: remember an accepted no-op by its id.
    pub(super) fn execute_once(
        &self,
        command: &Command,
        record_noops: bool,
    ) -> Result<Outcome, EngineError> {
        self.check_running()?;
        // A message's conversation never changes once indexed, so the route found before
        // locking still holds after. A message unknown now is decided as unknown: the command
        // is ordered before any send of it that races with it.
        let route = self.route(&command.kind, &FxHashMap::default())?;
        if let (Some(remote), Some(conversation)) = (&self.options.log_of_record, &route) {
            // Routed to the wrong process: refused before anything is decided.
            remote.accepts(conversation)?;
        }
        let held = self.shared.conversation_locks.lock(route.iter());
        if let Some(record) = self.shared.log.find_command(command.id)? {
            drop(held);
            // The original write may still be on its way to the disk: answer once it is durable.
            self.await_durable(self.shared.log.wait_durable_now())?;
            return Ok(repeated_outcome(record));
        }
        let policy = read(&self.policy).clone();
        let admission = matches!(command.kind, CommandKind::AckMessageReadIn { .. })
            .then(|| lock(&self.shared.early_ack_admission));
        let mut reserved = Reserved::new(&self.shared.reservations);
        let decision = self.decide_in(
            &mut lock(&self.shared.projections),
            &policy,
            command,
            route.as_ref(),
            &FxHashMap::default(),
            &mut reserved,
        )??;
        let Some(first) = decision.events.first() else {
            drop(admission);
            if !record_noops {
                return Ok(Outcome::without_events(decision.note, false));
            }
            // Accepted, nothing to record: remember that, so a retry gets the same answer even
            // after later events would make it decide otherwise.
            if let (Some(remote), Some(conversation)) = (&self.options.log_of_record, &route) {
                remote
                    .record_noop(conversation, command.id)
                    .map_err(|e| self.stop(e))?;
            }
            let written = self.shared.log.record_noop(command.id)?;
            drop(held);
            self.await_durable(self.shared.log.wait_durable(&written))?;
            return Ok(Outcome::without_events(decision.note, false));
        };
        let conversation = first.body.conversation();
        // A checkpoint's marker must not count an event that is written but not folded yet.
        let gate = read(&self.shared.fold_gate);
        // Every write to this conversation holds its lock: the log's version is the partition's.
        let expected_version = self.shared.log.version(&conversation)?;
        let request = AppendRequest {
            conversation,
            expected_version,
            events: decision.events,
        };
        if let Some(remote) = &self.options.log_of_record {
            // The log of record first: the replica never holds what it may not. A failure
            // leaves the replica's match with it unknown, so the engine stops (reopen).
            remote
                .append(std::slice::from_ref(&request))
                .map_err(|e| self.stop(e))?;
        }
        let written = self
            .shared
            .log
            .write_batch(std::slice::from_ref(&request))?;
        // Indexed now: the sent message's id needs no reservation any more.
        drop(reserved);
        let first_position = written
            .outcomes
            .first()
            .map(|a| a.first_position)
            .unwrap_or(0);
        let mut per_event = Vec::with_capacity(request.events.len());
        let mut projections = lock(&self.shared.projections);
        for (i, e) in request.events.iter().enumerate() {
            let version = expected_version + 1 + i as u64;
            let state = projections
                .apply(&self.shared.log, &request.conversation, version, e)
                .map_err(|err| self.fail(err, true))?;
            per_event.push((first_position + i as u64, state.notifications_for(e)));
        }
        projections
            .evict_over_budget(&self.shared.log, Some(&request.conversation))
            .map_err(|err| self.fail(err, false))?;
        drop(projections);
        drop(admission);
        drop(gate);
        drop(held);
        self.await_durable(self.shared.log.wait_durable(&written))?;
        let notifications = per_event
            .iter()
            .flat_map(|(_, n)| n.iter().cloned())
            .collect();
        self.publisher.publish(per_event);
        self.maybe_checkpoint();
        Ok(Outcome {
            events: request.events,
            first_position: Some(first_position),
            note: decision.note,
            notifications,
            repeated: false,
        })
    }
}
