//! Many commands, one append: the path a gateway or an importer takes when it has a queue of
//! commands at hand, so they share one atomic write and one durable commit instead of paying a
//! commit each.

use super::locks::Reserved;
use super::{lock, read, repeated_outcome, Engine, Outcome};
use crate::error::EngineError;
use receipt_domain::{
    Command, CommandId, CommandKind, ConversationId, Event, EventBody, MessageId, Note,
    Notification,
};
use receipt_store::{AppendRequest, Backend, StoreError};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::HashMap;

/// What became of one command of a batch before the write.
enum Slot {
    /// Rejected by the domain; nothing recorded.
    Rejected(EngineError),
    /// Already in the log: its original outcome.
    Recorded(Outcome),
    /// The same command id as the accepted command at this earlier index of the batch.
    RepeatOf(usize),
    /// Accepted as a no-op, recorded so a retry gets the same answer.
    NoOp(Option<Note>),
    /// Accepted with events: the index of its request in the batch's write, and the
    /// notifications of each of its events (computed right after the event was folded, as the
    /// one-command path does).
    Events {
        request: usize,
        note: Option<Note>,
        notifications: Vec<Vec<Notification>>,
    },
}

impl<B: Backend> Engine<B> {
    /// Decides and records `commands` in order, as one atomic append with one durable commit.
    ///
    /// Each command is decided against the projections including every earlier command of the
    /// batch, exactly as if they had been executed one by one; the answer for each is what
    /// [`Engine::execute_command`] would have returned (a rejection records nothing; a command
    /// id already recorded, or repeated inside the batch, gets its original outcome with
    /// [`Outcome::repeated`] set). The returned vector has one entry per command, in order.
    /// One difference: a read ack refused for the store-wide bound on held acks
    /// (`EarlyAcksFull`) is refused here, where [`Engine::execute_command`] first drops the
    /// expired acks of other conversations and decides it again (a batch holds its
    /// conversations' locks and cannot take others'); retry such an ack on its own.
    ///
    /// On a log of record ([`crate::EngineOptions::log_of_record`]: JetStream) the commands are
    /// appended one after another, each as its own decision, with the same answers; a failure
    /// part way leaves the commands before it stored, not acknowledged.
    ///
    /// The outer `Err` is a storage failure: then nothing of the batch is acknowledged, and if
    /// the projections already held some of its decisions the engine stops (the log may not
    /// hold them); reopen it to recover from the log. No-op records are written after the
    /// batch's events, so none outlives a failed write.
    ///
    /// ```
    /// # use receipt_engine::*;
    /// let engine = Engine::in_memory(EngineOptions::default().with_policy(Policy::all_receipts_on()))?;
    /// let (ann, bob) = (UserId::new("ann")?, UserId::new("bob")?);
    /// let chat = ConversationId::direct(ann.clone(), bob.clone())?;
    /// let m = MessageId(uuid::Uuid::now_v7());
    /// let command = |kind| Command { id: CommandId(uuid::Uuid::now_v7()), at_ms: 1_000, kind };
    /// let answers = engine.execute_batch(vec![
    ///     command(CommandKind::AckMessageRead { message: m, reader: bob.clone() }), // too early
    ///     command(CommandKind::SendMessage { conversation: chat.clone(), message: m, sender: ann.clone(), needs_group_ack: false }),
    ///     command(CommandKind::AckMessageRead { message: m, reader: bob.clone() }),
    /// ])?;
    /// assert!(answers[0].is_err()); // unknown message when it was decided: nothing recorded
    /// assert!(answers[1].is_ok() && answers[2].is_ok());
    /// assert_eq!(engine.head(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn execute_batch(
        &self,
        commands: Vec<Command>,
    ) -> Result<Vec<Result<Outcome, EngineError>>, EngineError> {
        self.check_running()?;
        let candidates = self.batch_conversations(&commands)?;
        if let Some(remote) = &self.options.log_of_record {
            // A batch is written by the process that owns all its conversations.
            for c in &candidates {
                remote.accepts(c)?;
            }
            return self.execute_each(&commands);
        }
        let held = self.shared.conversation_locks.lock(candidates.iter());
        // The batch folds each decision before deciding the next, so its own held acks are
        // counted; the admission lock keeps other commands' out of the count meanwhile.
        let admission = commands
            .iter()
            .any(|c| matches!(c.kind, CommandKind::AckMessageReadIn { .. }))
            .then(|| lock(&self.shared.early_ack_admission));
        let gate = read(&self.shared.fold_gate);
        let mut reserved = Reserved::new(&self.shared.reservations);
        // The projections stay locked until the batch is written, so no query ever sees a
        // decision that the log does not hold, and no partition holding one is evicted.
        let mut projections = lock(&self.shared.projections);
        let policy = read(&self.policy).clone();
        let mut slots: Vec<Slot> = Vec::with_capacity(commands.len());
        let mut requests: Vec<AppendRequest> = Vec::new();
        let mut accepted: HashMap<CommandId, usize> = HashMap::new();
        // No-ops are recorded only once the batch's events are written: each was decided
        // against a state that includes the batch, so its record must not outlive a failed write.
        let mut noops: Vec<(CommandId, Option<ConversationId>)> = Vec::new();
        // A command found in the log may have been written by a concurrent caller whose commit
        // is still on its way: its answer waits for that, as in `execute_command`.
        let mut found_recorded = false;
        // Per-stream versions planned inside this batch (the log's are as of before it).
        let mut versions: HashMap<ConversationId, u64> = HashMap::new();
        // Messages sent by earlier commands of the batch: not in the log's index yet.
        let mut pending: FxHashMap<MessageId, ConversationId> = FxHashMap::default();
        for command in &commands {
            if let Some(&earlier) = accepted.get(&command.id) {
                slots.push(Slot::RepeatOf(earlier));
                continue;
            }
            let found = self
                .shared
                .log
                .find_command(command.id)
                .map_err(|e| self.fail(e, !requests.is_empty()))?;
            if let Some(record) = found {
                slots.push(Slot::Recorded(repeated_outcome(record)));
                found_recorded = true;
                continue;
            }
            // A message indexed since the conversations were locked was sent by a command that
            // raced with this batch: it is decided as unknown, as if the batch came first.
            let route = self
                .route(&command.kind, &pending)
                .map_err(|e| self.fail(e, !requests.is_empty()))?
                .filter(|c| candidates.contains(c));
            let decided = self
                .decide_in(
                    &mut projections,
                    &policy,
                    command,
                    route.as_ref(),
                    &pending,
                    &mut reserved,
                )
                .map_err(|e| self.fail(e, !requests.is_empty()))?;
            let decision = match decided {
                Ok(d) => d,
                Err(e) => {
                    slots.push(Slot::Rejected(e));
                    continue;
                }
            };
            accepted.insert(command.id, slots.len());
            let Some(first) = decision.events.first() else {
                noops.push((command.id, route));
                slots.push(Slot::NoOp(decision.note));
                continue;
            };
            let conversation = first.body.conversation();
            let expected_version = match versions.get(&conversation) {
                Some(&v) => v,
                None => self
                    .shared
                    .log
                    .version(&conversation)
                    .map_err(|e| self.fail(e, !requests.is_empty()))?,
            };
            versions.insert(
                conversation.clone(),
                expected_version + decision.events.len() as u64,
            );
            let notifications = decision
                .events
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    if let EventBody::MessageSent { message, .. }
                    | EventBody::ThreadReplySent { message, .. } = &e.body
                    {
                        pending.insert(*message, conversation.clone());
                    }
                    let version = expected_version + 1 + i as u64;
                    let state = projections.apply(&self.shared.log, &conversation, version, e)?;
                    Ok(state.notifications_for(e))
                })
                .collect::<Result<Vec<_>, StoreError>>()
                .map_err(|e| self.fail(e, true))?;
            slots.push(Slot::Events {
                request: requests.len(),
                note: decision.note,
                notifications,
            });
            requests.push(AppendRequest {
                conversation,
                expected_version,
                events: decision.events,
            });
        }
        let mut written = if requests.is_empty() {
            None
        } else {
            // On failure the projections hold decisions the log refused: `fail` stops the
            // engine rather than serve answers no restart would reproduce.
            if let Some(remote) = &self.options.log_of_record {
                remote.append(&requests).map_err(|e| self.fail(e, true))?;
            }
            Some(
                self.shared
                    .log
                    .write_batch(&requests)
                    .map_err(|e| self.fail(e, true))?,
            )
        };
        let events_written = written.is_some();
        // Indexed now (or never written): the batch's sends need no reservations any more.
        drop(reserved);
        let first_positions: Vec<u64> = written
            .as_ref()
            .map(|w| w.outcomes.iter().map(|a| a.first_position).collect())
            .unwrap_or_default();
        for (id, route) in noops {
            if let (Some(remote), Some(conversation)) = (&self.options.log_of_record, &route) {
                remote
                    .record_noop(conversation, id)
                    .map_err(|e| self.fail(e, true))?;
            }
            written = Some(
                self.shared
                    .log
                    .record_noop(id)
                    .map_err(|e| self.fail(e, events_written))?,
            );
        }
        projections
            .evict_over_budget(&self.shared.log, None)
            .map_err(|e| self.fail(e, false))?;
        drop(projections);
        drop(admission);
        drop(gate);
        drop(held);
        // The last write covers the earlier ones: a commit makes everything written so far durable.
        if found_recorded {
            self.await_durable(self.shared.log.wait_durable_now())?;
        } else if let Some(w) = &written {
            self.await_durable(self.shared.log.wait_durable(w))?;
        }
        // Published in log order: requests are written in slot order.
        let mut per_event = Vec::new();
        for slot in &slots {
            if let Slot::Events {
                request,
                notifications,
                ..
            } = slot
            {
                let first = first_positions.get(*request).copied().unwrap_or(0);
                per_event.extend((first..).zip(notifications.iter().cloned()));
            }
        }
        self.publisher.publish(per_event);
        self.maybe_checkpoint();
        Ok(answers(slots, requests, &first_positions))
    }
}

impl<B: Backend> Engine<B> {
    /// Every conversation a batch's commands may concern: those they name, and those of the
    /// messages they name (the log's index, or the batch's own sends, which name theirs).
    /// A batch on a log of record: its commands one after another, each its own append.
    ///
    /// Why: a log of record answers after a round trip, and the batch path holds the
    /// projections from its first decision to its write, so every other command and query would
    /// wait for the round trip; one by one, each holds them only to decide and to fold. The
    /// answers are the same (a batch is decided as if its commands ran one by one). What differs
    /// is atomicity: when an append fails, the commands before it are stored (the outer `Err`
    /// acknowledges none of them; retried with their ids, they are recognised).
    fn execute_each(
        &self,
        commands: &[Command],
    ) -> Result<Vec<Result<Outcome, EngineError>>, EngineError> {
        let mut answers = Vec::with_capacity(commands.len());
        for command in commands {
            match self.execute_once(command, true) {
                Err(e @ (EngineError::Stopped(_) | EngineError::Store(_))) => return Err(e),
                answer => answers.push(answer),
            }
        }
        Ok(answers)
    }

    fn batch_conversations(
        &self,
        commands: &[Command],
    ) -> Result<FxHashSet<ConversationId>, EngineError> {
        let mut out = FxHashSet::default();
        for command in commands {
            if let Some(c) = self.route(&command.kind, &FxHashMap::default())? {
                out.insert(c);
            }
        }
        Ok(out)
    }
}

/// One outcome per command, now that the batch is durable.
fn answers(
    slots: Vec<Slot>,
    requests: Vec<AppendRequest>,
    first_positions: &[u64],
) -> Vec<Result<Outcome, EngineError>> {
    let mut events_of: Vec<Vec<Event>> = requests.into_iter().map(|r| r.events).collect();
    let mut out: Vec<Result<Outcome, EngineError>> = Vec::with_capacity(slots.len());
    for slot in slots {
        let answer = match slot {
            Slot::Rejected(e) => Err(e),
            Slot::Recorded(outcome) => Ok(outcome),
            Slot::RepeatOf(earlier) => match &out[earlier] {
                Ok(o) => Ok(Outcome {
                    notifications: Vec::new(),
                    repeated: true,
                    ..o.clone()
                }),
                // Unreachable: only accepted commands are repeated; answer like a retry would.
                Err(_) => Ok(Outcome::without_events(Some(Note::AlreadyDone), true)),
            },
            Slot::NoOp(note) => Ok(Outcome::without_events(note, false)),
            Slot::Events {
                request,
                note,
                notifications,
            } => Ok(Outcome {
                events: std::mem::take(&mut events_of[request]),
                first_position: first_positions.get(request).copied(),
                note,
                notifications: notifications.into_iter().flatten().collect(),
                repeated: false,
            }),
        };
        out.push(answer);
    }
    out
}
