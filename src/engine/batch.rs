//! Many commands, one append: the path a gateway or an importer takes when it has a queue of
//! commands at hand, so they share one atomic write and one durable commit instead of paying a
//! commit each.

use super::{read, repeated_outcome, write, Engine, Outcome};
use crate::error::EngineError;
use receipt_domain::{decide, Command, CommandId, ConversationId, Event, Note, Notification};
use receipt_store::{AppendRequest, Backend, Written};
use std::collections::HashMap;
use std::sync::PoisonError;

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
    ///
    /// The outer `Err` is a storage failure: then nothing of the batch is acknowledged, and the
    /// engine stops (its projections already include the batch's decisions, which the log may
    /// not hold); reopen it to recover from the log.
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
        let guard = self
            .command_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The state stays write-locked until the batch is written, so no query ever sees a
        // decision that the log does not hold.
        let mut state = write(&self.state);
        let policy = read(&self.policy).clone();
        let mut slots: Vec<Slot> = Vec::with_capacity(commands.len());
        let mut requests: Vec<AppendRequest> = Vec::new();
        let mut accepted: HashMap<CommandId, usize> = HashMap::new();
        let mut last_noop: Option<Written> = None;
        // A command found in the log may have been written by a concurrent caller whose commit
        // is still on its way: its answer waits for that, as in `execute_command`.
        let mut found_recorded = false;
        // Per-stream versions planned inside this batch (the log's are as of before it).
        let mut versions: HashMap<ConversationId, u64> = HashMap::new();
        for command in &commands {
            if let Some(&earlier) = accepted.get(&command.id) {
                slots.push(Slot::RepeatOf(earlier));
                continue;
            }
            if let Some(record) = self.log.find_command(command.id)? {
                slots.push(Slot::Recorded(repeated_outcome(record)));
                found_recorded = true;
                continue;
            }
            let decision = match decide(&state, &policy, command) {
                Ok(d) => d,
                Err(e) => {
                    slots.push(Slot::Rejected(e.into()));
                    continue;
                }
            };
            accepted.insert(command.id, slots.len());
            let Some(first) = decision.events.first() else {
                last_noop = Some(self.log.record_noop(command.id)?);
                slots.push(Slot::NoOp(decision.note));
                continue;
            };
            let conversation = first.body.conversation();
            let expected_version = match versions.get(&conversation) {
                Some(&v) => v,
                None => self.log.version(&conversation)?,
            };
            versions.insert(
                conversation.clone(),
                expected_version + decision.events.len() as u64,
            );
            let notifications = decision
                .events
                .iter()
                .map(|e| {
                    state.apply(e);
                    state.notifications_for(e)
                })
                .collect();
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
        let written = if requests.is_empty() {
            last_noop
        } else {
            match self.log.write_batch(&requests) {
                Ok(w) => Some(w),
                Err(e) => {
                    // The projections hold decisions the log refused: stop rather than serve
                    // answers no restart would reproduce.
                    return Err(self.stop(e));
                }
            }
        };
        drop(state);
        drop(guard);
        let first_positions: Vec<u64> = written
            .as_ref()
            .map(|w| w.outcomes.iter().map(|a| a.first_position).collect())
            .unwrap_or_default();
        if found_recorded {
            self.await_durable(self.log.wait_durable_now())?;
        } else if let Some(w) = &written {
            self.await_durable(self.log.wait_durable(w))?;
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
        self.maybe_snapshot()?;
        Ok(answers(slots, requests, &first_positions))
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
                Err(_) => Ok(Outcome {
                    events: Vec::new(),
                    first_position: None,
                    note: Some(Note::AlreadyDone),
                    notifications: Vec::new(),
                    repeated: true,
                }),
            },
            Slot::NoOp(note) => Ok(Outcome {
                events: Vec::new(),
                first_position: None,
                note,
                notifications: Vec::new(),
                repeated: false,
            }),
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
