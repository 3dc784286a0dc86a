//! Appends to the JetStream log: planning a decision against the conversation's last message,
//! publishing it with its expectations, and reading the server's answer (stored, a retry
//! recognised, a conflict, a fence); the owner's fenced appends and no-op records.

use crate::error::JetStreamError;
use crate::log::{JetStreamLog, Tip, FIRST_EVENT, POSITION, VERSION};
use crate::noop::{decode_noop, encode_noop, noop_subject, NOOP_TOKEN};
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use receipt_domain::{CommandId, ConversationId, Event, EventId};
use receipt_store::wire::encode_record;
use std::time::Duration;

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Appended {
    /// The conversation's version after it.
    pub version: u64,
    /// The message's sequence in its partition's stream.
    pub sequence: u64,
    /// The same events were already appended (a retry): nothing new was stored.
    pub duplicate: bool,
}

/// An append ready to publish.
struct Planned {
    conversation: ConversationId,
    partition: u32,
    subject: String,
    message: jetstream::message::PublishMessage,
    expected_version: u64,
    after: u64,
    first: EventId,
}

/// What an append comes to before it is sent.
enum Plan {
    /// Answered without sending (a recognised retry, or a conflict).
    Settled(Result<Appended, JetStreamError>),
    /// To be sent.
    Publish(Planned),
}

/// How many times an owner's append refused for its fence is sent again while its partition
/// holds nothing past the fence (see `JetStreamLog::moved_past`).
const FENCE_RECHECKS: u32 = 20;

/// A refusal for the partition's fence while nothing is past it, after every recheck: not a
/// fence, not stored; reported as a lost answer (`Request`), which an owner resolving lost
/// answers (`append_owned_retrying`) sends again.
fn unexplained_refusal() -> JetStreamError {
    JetStreamError::request(
        "append",
        "refused for the partition's last sequence while nothing was past it",
    )
}

/// A publish not answered within the append timeout: its outcome is unknown.
fn timed_out() -> jetstream::context::PublishError {
    jetstream::context::PublishError::new(jetstream::context::PublishErrorKind::TimedOut)
}

/// Whether the server refused a publish because a sequence it expected was not the last:
/// error 10071, or its constant form 10164 (which the client does not classify). Either is a
/// refusal (nothing stored), not a lost answer. On a cluster, 10164 also answers an expectation
/// sent before the message it names was applied: which is why an owner sends its appends to a
/// partition one at a time (docs/scale-out.md).
fn wrong_last_sequence(e: &jetstream::context::PublishError) -> bool {
    e.kind() == jetstream::context::PublishErrorKind::WrongLastSequence
        || std::error::Error::source(e)
            .and_then(|s| s.downcast_ref::<jetstream::Error>())
            .is_some_and(|j| {
                j.error_code() == jetstream::ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT
            })
}

impl JetStreamLog {
    /// Appends one decision's `events` to `conversation`, decided at `expected_version`: all of
    /// them or none, only if nothing was appended to the conversation since, once however often
    /// it is retried (a retry is answered with `duplicate`).
    pub fn append(
        &self,
        conversation: &ConversationId,
        expected_version: u64,
        events: &[Event],
    ) -> Result<Appended, JetStreamError> {
        self.append_fenced(conversation, expected_version, events, None)
    }

    /// [`JetStreamLog::append`]; with `fence` (the partition stream's last sequence as its
    /// owner knows it), also only if nothing was appended to the whole partition since: the
    /// server refuses the append of an owner that another has replaced
    /// ([`JetStreamError::Fenced`]), whichever conversation it names.
    pub(crate) fn append_fenced(
        &self,
        conversation: &ConversationId,
        expected_version: u64,
        events: &[Event],
        mut fence: Option<&mut u64>,
    ) -> Result<Appended, JetStreamError> {
        let mut rechecks = 0;
        loop {
            let answer =
                match self.plan(conversation, expected_version, events, fence.as_deref())? {
                    // Found stored before sending (an earlier attempt whose answer was lost) or a
                    // conflict: no message sent, but a stored attempt still moves the fence below.
                    Plan::Settled(answer) => answer,
                    Plan::Publish(planned) => {
                        let acked = self
                            .bounded(async {
                                self.context
                                    .send_publish(planned.subject.clone(), planned.message.clone())
                                    .await?
                                    .await
                            })
                            .unwrap_or_else(|| Err(timed_out()));
                        self.finish(&planned, acked, fence.is_some())
                    }
                };
            match (&answer, fence.as_deref_mut()) {
                // Stored, or found stored (an earlier attempt of ours, recognised before sending
                // or after the server refused the resend), past the fence: the fence moves to
                // it. Missing this when a retry is recognised before sending left the fence one
                // message short, and this owner's next append to the partition was refused as
                // fenced by its own earlier message (seen in CI after a leader's kill).
                (Ok(a), Some(last)) if a.sequence > *last => *last = a.sequence,
                (Err(JetStreamError::Fenced { partition }), Some(last))
                    if !self.moved_past(*partition, *last)? =>
                {
                    if rechecks < FENCE_RECHECKS {
                        rechecks += 1;
                        std::thread::sleep(Duration::from_millis(5 * u64::from(rechecks)));
                        continue;
                    }
                    // Not fenced (nothing is past the fence) and not stored: an answer not
                    // understood, which a caller resolving lost answers sends again.
                    return Err(unexplained_refusal());
                }
                _ => {}
            }
            return answer;
        }
    }

    /// Whether partition `p` holds a message past sequence `last`: what tells a real fence
    /// (another owner appended) from a refusal of a cluster that had not applied the owner's
    /// previous message yet when the next one came (error 10164, seen under load on the
    /// 3-node cluster in `examples/engine_rates.rs`, with nothing appended by anyone else).
    fn moved_past(&self, p: u32, last: u64) -> Result<bool, JetStreamError> {
        Ok(self.partition_head(p)? > last)
    }

    /// Several decisions, each to a different conversation, published without waiting for one
    /// another's acknowledgement (one round trip for all instead of one each): each is accepted,
    /// refused or recognised as [`JetStreamLog::append`] would, and answered in order. The
    /// outer `Err` is a decision naming a conversation twice (its second would depend on the
    /// first's acknowledgement).
    pub fn append_many(
        &self,
        decisions: &[(ConversationId, u64, Vec<Event>)],
    ) -> Result<Vec<Result<Appended, JetStreamError>>, JetStreamError> {
        let mut seen = std::collections::HashSet::new();
        if let Some((c, _, _)) = decisions.iter().find(|(c, _, _)| !seen.insert(c)) {
            return Err(JetStreamError::ConversationTwice {
                conversation: c.clone(),
            });
        }
        let plans = decisions
            .iter()
            .map(|(c, v, events)| self.plan(c, *v, events, None))
            .collect::<Vec<_>>();
        let acks = self.runtime.block_on(async {
            let mut pending = Vec::with_capacity(plans.len());
            for plan in &plans {
                pending.push(match plan {
                    Ok(Plan::Publish(p)) => Some(
                        self.context
                            .send_publish(p.subject.clone(), p.message.clone())
                            .await,
                    ),
                    _ => None,
                });
            }
            let mut acks = Vec::with_capacity(pending.len());
            for sent in pending {
                acks.push(match sent {
                    Some(Ok(future)) => Some(future.await),
                    Some(Err(e)) => Some(Err(e)),
                    None => None,
                });
            }
            acks
        });
        Ok(plans
            .into_iter()
            .zip(acks)
            .map(|(plan, ack)| match (plan?, ack) {
                (Plan::Settled(answer), _) => answer,
                (Plan::Publish(p), Some(acked)) => self.finish(&p, acked, false),
                (Plan::Publish(_), None) => Err(JetStreamError::request("append", "not sent")),
            })
            .collect())
    }

    /// What an append of `events` at `expected_version` sends, or its answer when the
    /// conversation is elsewhere already (a retry of its last decision, or a conflict).
    fn plan(
        &self,
        conversation: &ConversationId,
        expected_version: u64,
        events: &[Event],
        fence: Option<&u64>,
    ) -> Result<Plan, JetStreamError> {
        let first = events.first().ok_or(JetStreamError::Empty)?.id;
        let after = expected_version + events.len() as u64;
        let cached = self.tips().get(conversation).copied();
        let tip = match cached {
            Some(t) if t.version == expected_version => t,
            // A conversation never seen: sent as new, without asking. The server checks the
            // expectation (no message on the subject yet) and refuses it otherwise; `finish`
            // then asks and answers a retry or a conflict.
            None if expected_version == 0 => Tip::default(),
            _ => self.fetch_tip(conversation)?,
        };
        if tip.version != expected_version {
            return Ok(Plan::Settled(self.settle(
                conversation,
                expected_version,
                after,
                first,
                tip,
            )));
        }
        let (p, subject) = self.subject(conversation);
        let record = encode_record(expected_version, events)?;
        let mut message = jetstream::message::PublishMessage::build()
            .payload(Bytes::from(record))
            .message_id(first.0.to_string())
            .expected_last_subject_sequence(tip.sequence)
            .header(POSITION, expected_version.to_string().as_str())
            .header(VERSION, after.to_string().as_str())
            .header(FIRST_EVENT, first.0.to_string().as_str());
        if let Some(last) = fence {
            message = message.expected_last_sequence(*last);
        }
        Ok(Plan::Publish(Planned {
            conversation: conversation.clone(),
            partition: p as u32,
            subject,
            message,
            expected_version,
            after,
            first,
        }))
    }

    /// The answer to a published append, from the server's acknowledgement or refusal.
    fn finish(
        &self,
        p: &Planned,
        acked: Result<jetstream::publish::PublishAck, jetstream::context::PublishError>,
        fenced: bool,
    ) -> Result<Appended, JetStreamError> {
        match acked {
            Ok(ack) if ack.duplicate => {
                // The server had this message id: an earlier attempt was stored. Say where.
                let tip = self.fetch_tip(&p.conversation)?;
                self.settle(&p.conversation, p.expected_version, p.after, p.first, tip)
            }
            Ok(ack) => {
                self.tips().insert(
                    p.conversation.clone(),
                    Tip {
                        version: p.after,
                        sequence: ack.sequence,
                        first_event: Some(p.first),
                    },
                );
                Ok(Appended {
                    version: p.after,
                    sequence: ack.sequence,
                    duplicate: false,
                })
            }
            Err(e) if wrong_last_sequence(&e) => {
                let tip = self.fetch_tip(&p.conversation)?;
                match self.settle(&p.conversation, p.expected_version, p.after, p.first, tip) {
                    // Not a retry, and the partition or the conversation moved past what its
                    // owner knew: only another owner appends to an owned partition.
                    Err(JetStreamError::Conflict { .. }) if fenced => Err(JetStreamError::Fenced {
                        partition: p.partition,
                    }),
                    settled => settled,
                }
            }
            Err(e) => {
                // Unknown outcome: forget the tip, so the retry asks the server.
                self.tips().remove(&p.conversation);
                Err(JetStreamError::request("append", e))
            }
        }
    }

    /// The conversation is not at `expected_version`: the append is a retry of the decision
    /// the server holds last (`duplicate`), or a conflict.
    fn settle(
        &self,
        conversation: &ConversationId,
        expected_version: u64,
        after: u64,
        first: EventId,
        tip: Tip,
    ) -> Result<Appended, JetStreamError> {
        if tip.version == after && tip.first_event == Some(first) {
            // Stored already (an earlier attempt), by this or another process.
            return Ok(Appended {
                version: after,
                sequence: tip.sequence,
                duplicate: true,
            });
        }
        Err(JetStreamError::Conflict {
            conversation: conversation.clone(),
            expected: expected_version,
            actual: tip.version,
        })
    }

    /// Records the no-op `command` in partition `p`, fenced at `last` (the partition's last
    /// sequence as its owner knows it, moved on success). A retry is dropped by the server
    /// (the message id names the command).
    pub(crate) fn append_noop_fenced(
        &self,
        p: u32,
        command: CommandId,
        last: &mut u64,
    ) -> Result<(), JetStreamError> {
        let mut rechecks = 0;
        loop {
            let message = jetstream::message::PublishMessage::build()
                .payload(Bytes::from(encode_noop(command)))
                .message_id(format!("noop-{}", command.0))
                .expected_last_sequence(*last);
            let acked = self
                .bounded(async {
                    self.context
                        .send_publish(noop_subject(&self.prefix, p), message)
                        .await?
                        .await
                })
                .unwrap_or_else(|| Err(timed_out()));
            return match acked {
                Ok(ack) => {
                    if ack.sequence > *last {
                        *last = ack.sequence;
                    }
                    Ok(())
                }
                Err(e) if wrong_last_sequence(&e) => {
                    if self.noop_at(p, *last + 1, command)? {
                        // Stored by an earlier attempt whose answer was lost.
                        *last += 1;
                        return Ok(());
                    }
                    if self.moved_past(p, *last)? {
                        return Err(JetStreamError::Fenced { partition: p });
                    }
                    if rechecks < FENCE_RECHECKS {
                        // Refused before the previous message was applied: as in
                        // `append_fenced`, sent again.
                        rechecks += 1;
                        std::thread::sleep(Duration::from_millis(5 * u64::from(rechecks)));
                        continue;
                    }
                    Err(unexplained_refusal())
                }
                Err(e) => Err(JetStreamError::request("record a no-op", e)),
            };
        }
    }

    /// Whether the message at `sequence` of partition `p` is the no-op record of `command`.
    fn noop_at(&self, p: u32, sequence: u64, command: CommandId) -> Result<bool, JetStreamError> {
        let stream = self.partition_stream(p)?;
        // From the leader, as `fetch_tip` reads: a lagging replica may not have it yet.
        let got = self
            .bounded(stream.get_raw_message(sequence))
            .ok_or_else(|| JetStreamError::request("read a message", "timed out"))?;
        match got {
            Ok(m) if m.subject.as_str().rsplit('.').next() == Some(NOOP_TOKEN) => {
                Ok(decode_noop(&m.payload, sequence)? == command)
            }
            Ok(_) => Ok(false),
            Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => Ok(false),
            Err(e) => Err(JetStreamError::request("read a message", e)),
        }
    }
}
