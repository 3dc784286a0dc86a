//! `verify` of the checkpoints: every entry decodes and says what a fold of the log says.
//! Checkpoints are caches (an engine rebuilds any entry that fails its checks), but a store
//! that holds a wrong one is reported: `receipts rebuild` rewrites them all.

use crate::backend::Backend;
use crate::checkpoint::{entry_crc, Roster, RosterMap, HEADER, MARKER, PARTITION, ROSTER, SUMMARY};
use crate::keys;
use crate::log::EventLog;
use crate::record::{checkpoint_layout, CHECKPOINT_LAYOUT_VERSION};
use receipt_domain::{
    ConversationHeader, ConversationId, HeldEarlyAcks, ReaderSummary, State, UserId,
};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// What the checkpoint check needs of a fold of the whole log, gathered one conversation at a
/// time (`verify` folds each stream on its own and drops its partition): every header, every
/// reader summary, and the read acks held. Its size follows the answers a checkpoint holds,
/// not the history.
#[derive(Default)]
pub(crate) struct Folded {
    headers: FxHashMap<ConversationId, ConversationHeader>,
    summaries: FxHashMap<(UserId, ConversationId), ReaderSummary>,
    held: HeldEarlyAcks,
}

impl Folded {
    /// Adds the answers of one conversation's partition (the fold of its whole stream).
    pub(crate) fn add(&mut self, conversation: &ConversationId, partition: &State) {
        if let Some(h) = partition.header(conversation) {
            self.headers.insert(conversation.clone(), h);
        }
        for (u, s) in partition.reader_summaries(conversation) {
            self.summaries.insert((u, conversation.clone()), s);
        }
        self.held
            .set(conversation, partition.early_acks_held_in(conversation));
    }

    fn summary(&self, conversation: &ConversationId, user: &UserId) -> Option<ReaderSummary> {
        // One key clone per stored summary checked: verify's cost, not a hot path.
        self.summaries
            .get(&(user.clone(), conversation.clone()))
            .copied()
    }
}

/// What `verify` checked of the checkpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckpointCheck {
    /// The marker's position, if there is one.
    pub marker: Option<u64>,
    /// The checkpoint was written by a build with another layout (this one's is
    /// [`crate::CHECKPOINT_LAYOUT_VERSION`]): a cache the next open rebuilds from the log, not
    /// damage; its entries are not checked.
    pub other_layout: Option<u16>,
    /// Partition entries, each equal to a fold of its stream's first events.
    pub partitions: u64,
    /// Header entries checked against a fold of the whole log (only when the marker is at the
    /// head: otherwise the next open refreshes the ones the tail touches).
    pub headers: u64,
    /// Summary entries checked the same way.
    pub summaries: u64,
}

impl<B: Backend> EventLog<B> {
    /// Checks every checkpoint entry; `whole` is what a fold of the whole log answers. `Err`
    /// says which entry is wrong and how.
    pub(crate) fn verify_checkpoints(&self, whole: &Folded) -> Result<CheckpointCheck, String> {
        let head = self.head();
        if let Some(bytes) = self
            .backend
            .checkpoint_get(MARKER)
            .map_err(|e| e.to_string())?
        {
            let layout =
                checkpoint_layout(&bytes).map_err(|e| format!("checkpoint marker: {e}"))?;
            if layout != CHECKPOINT_LAYOUT_VERSION {
                return Ok(CheckpointCheck {
                    other_layout: Some(layout),
                    ..CheckpointCheck::default()
                });
            }
        }
        let mark = match self.checkpoint_mark().map_err(|e| e.to_string())? {
            Ok(m) => m,
            Err(unusable) => return Err(unusable.0),
        };
        let mut check = CheckpointCheck {
            marker: mark.as_ref().map(|m| m.position),
            ..CheckpointCheck::default()
        };
        let exact = check.marker == Some(head);
        if let Some(m) = mark.filter(|_| exact) {
            if m.held_early_acks != whole.held {
                return Err(format!(
                    "the marker counts {} read acks held for messages not sent yet, the log {}",
                    m.held_early_acks.total(),
                    whole.held.total()
                ));
            }
        }
        let mut rosters: BTreeMap<UserId, RosterMap> = BTreeMap::new();
        let mut summary_crcs: BTreeMap<UserId, RosterMap> = BTreeMap::new();
        for item in self.backend.checkpoint_range(&[], &[0xFF]) {
            let (k, v) = item.map_err(|e| e.to_string())?;
            match k.first().copied() {
                Some(PARTITION) => {
                    let c = keys::conversation_of_stream(&k[1..])?;
                    let state = match self.load_partition(&c).map_err(|e| e.to_string())? {
                        Some(Ok(s)) => s,
                        Some(Err(unusable)) => return Err(unusable.0),
                        None => return Err(format!("the checkpoint of {c} vanished")),
                    };
                    let max = usize::try_from(state.events_applied()).unwrap_or(usize::MAX);
                    let mut folded = State::new();
                    for e in self.read_stream(&c, 1, max).map_err(|e| e.to_string())? {
                        folded.apply(&e.event);
                    }
                    if folded != state {
                        return Err(format!(
                            "the checkpoint of {c} differs from a fold of its first {} events",
                            state.events_applied()
                        ));
                    }
                    check.partitions += 1;
                }
                Some(HEADER) => {
                    let c = keys::conversation_of_stream(&k[1..])?;
                    let (version, stored) = self
                        .check_bound::<ConversationHeader>(&k, &v)
                        .map_err(|e| format!("header of {c}: {e}"))?;
                    if exact {
                        let stream = self.version(&c).map_err(|e| e.to_string())?;
                        if whole.headers.get(&c) != Some(&stored) || version != stream {
                            return Err(format!("the header of {c} differs from the log's"));
                        }
                        check.headers += 1;
                    }
                }
                Some(SUMMARY) => {
                    let (user, stream) = split_summary_key(&k)?;
                    let c = keys::conversation_of_stream(stream)?;
                    let (_, stored) = self
                        .check_bound::<ReaderSummary>(&k, &v)
                        .map_err(|e| format!("summary of {user} in {c}: {e}"))?;
                    summary_crcs
                        .entry(user.clone())
                        .or_default()
                        .insert(stream.to_vec(), entry_crc(&v));
                    if exact {
                        if !summary_agrees(whole.summary(&c, &user), stored) {
                            return Err(format!(
                                "the summary of {user} in {c} differs from the log's"
                            ));
                        }
                        check.summaries += 1;
                    }
                }
                Some(ROSTER) => {
                    let (user, rest) = split_summary_key(&k)?;
                    if !rest.is_empty() {
                        return Err(format!("bad roster key of {user}"));
                    }
                    let (_, roster) = self
                        .check_bound::<Roster>(&k, &v)
                        .map_err(|e| format!("roster of {user}: {e}"))?;
                    rosters.insert(user, roster.streams()?);
                }
                Some(tag) if k == MARKER && tag == MARKER[0] => {}
                _ => return Err(format!("unknown checkpoint key {k:?}")),
            }
        }
        if exact {
            // Complete, too: a missing entry would drop a conversation from a badge.
            let conversations = whole.headers.len() as u64;
            let pairs = whole.summaries.len() as u64;
            // Every user's roster lists exactly the summaries stored for it.
            if let Some(user) = summary_crcs
                .keys()
                .chain(rosters.keys())
                .find(|u| summary_crcs.get(*u) != rosters.get(*u))
            {
                return Err(format!(
                    "the roster of {user} does not list exactly the summaries stored for it"
                ));
            }
            if check.headers != conversations || check.summaries != pairs {
                return Err(format!(
                    "the checkpoint holds {} headers and {} summaries, the log has {conversations} conversations and {pairs} readers",
                    check.headers, check.summaries
                ));
            }
        }
        Ok(check)
    }
}

/// Whether a stored summary says what the fold says: the same, or behind only by recalls or
/// `@all` messages (neither refreshes a group member's summary; an engine refreshes a stale one
/// when it is next asked), with every other counter the same.
fn summary_agrees(folded: Option<ReaderSummary>, stored: ReaderSummary) -> bool {
    let Some(folded) = folded else {
        return false;
    };
    let behind = stored.recalls_seen < folded.recalls_seen
        || stored.mention_alls_seen < folded.mention_alls_seen
        || stored.thread_replies_seen < folded.thread_replies_seen;
    // What a recall, an `@all` message or a thread reply changes without refreshing the
    // summary.
    let settled = |s: ReaderSummary| ReaderSummary {
        recalled_unread: 0,
        recalls_seen: 0,
        mentions: 0,
        mention_alls_seen: 0,
        thread_unread: 0,
        thread_replies_seen: 0,
        ..s
    };
    folded == stored || (behind && settled(stored) == settled(folded))
}

/// The user and the stream key of a summary entry's key.
fn split_summary_key(k: &[u8]) -> Result<(UserId, &[u8]), String> {
    let bad = || "bad checkpoint summary key".to_string();
    let len = k.get(1..5).ok_or_else(bad)?;
    let len = u32::from_be_bytes(len.try_into().map_err(|_| bad())?) as usize;
    let end = len.checked_add(5).ok_or_else(bad)?;
    let id = k.get(5..end).ok_or_else(bad)?;
    let id = std::str::from_utf8(id).map_err(|_| bad())?;
    // Stored ids keep the rules they were written under.
    let user = UserId::from_stored(id).map_err(|e| e.to_string())?;
    Ok((user, &k[end..]))
}
