//! Shared helpers for the storage tests: events, logs on both backends, a tiny workload.
#![allow(dead_code)] // Each test file uses a different part.

pub mod describe;

use receipt_domain::*;
use receipt_store::*;
use uuid::Uuid;

pub fn user(s: &str) -> UserId {
    UserId::new(s).expect("valid test id")
}

pub fn group(s: &str) -> GroupId {
    GroupId::new(s).expect("valid test id")
}

pub fn chat(a: &str, b: &str) -> ConversationId {
    ConversationId::direct(user(a), user(b)).expect("distinct users")
}

/// A `MessageSent` in `conversation` with event id `id`.
pub fn sent(conversation: &ConversationId, id: u128) -> Event {
    let sender = match conversation {
        ConversationId::Direct { low, .. } => low.clone(),
        ConversationId::Group(_) => user("owner"),
    };
    Event {
        id: EventId(Uuid::from_u128(id)),
        at_ms: 1_000 + id as u64,
        body: EventBody::MessageSent {
            conversation: conversation.clone(),
            message: MessageId(Uuid::from_u128(id + (1 << 100))),
            sender,
            group_ack: GroupAck::NotRequested,
        },
    }
}

pub fn request(
    conversation: &ConversationId,
    expected_version: u64,
    ids: &[u128],
) -> AppendRequest {
    AppendRequest {
        conversation: conversation.clone(),
        expected_version,
        events: ids.iter().map(|&i| sent(conversation, i)).collect(),
    }
}

/// The keyspace of a log, with the index watermark written first, without the store tag that
/// binds it to its ledger (`l`): these tests put the entries into a new backend without the
/// ledger, to see what the chunks and indexes alone say, as in a store written before ledgers
/// were bound. (A tagged keyspace without its ledger is refused: tests/ledger_binding.rs.)
pub fn keyspace<B: Backend>(log: &EventLog<B>) -> Vec<Entry> {
    log.flush().unwrap();
    log.backend()
        .range(b"", &[0xFF])
        .map(|e| e.unwrap())
        .filter(|(k, _)| k.as_slice() != b"l")
        .collect()
}

/// The position in a chunk key (`c` + u64 big-endian), if it is one.
pub fn chunk_position(key: &[u8]) -> Option<u64> {
    (key.len() == 9 && key[0] == b'c').then(|| u64::from_be_bytes(key[1..].try_into().unwrap()))
}

/// A deterministic generator (xorshift64*): enough to vary a test workload, no more.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Drives random domain commands through decide and hands each decision to `append`, which
/// returns whether it was stored; the state follows only stored decisions.
pub struct Workload {
    pub state: State,
    pub policy: Policy,
    rng: Rng,
    next_id: u128,
    now_ms: u64,
    /// Also recalls (golden fixture v5 on); off, the commands are those of earlier fixtures.
    recalls: bool,
    /// Also sends with mentions and notification modes (golden fixture v6 on).
    mentions: bool,
    /// Also reads and acknowledgements up to a position (golden fixture v7 on).
    up_to: bool,
    /// Also read acks ahead of their messages (golden fixture v8 on).
    early: bool,
    /// Also thread replies, follows and reads (golden fixture v10 on).
    threads: bool,
    /// Messages sent so far, with their conversation (the roots a thread command names).
    sent: Vec<(ConversationId, MessageId)>,
    /// Direct messages applied so far, with their conversation and the peer who received them
    /// (the positions an up-to command names).
    direct_sent: Vec<(ConversationId, MessageId, UserId)>,
}

const USERS: [&str; 6] = ["ann", "bob", "cat", "dan", "eve", "fay"];

impl Workload {
    pub fn new(seed: u64) -> Self {
        Self {
            state: State::new(),
            policy: Policy::all_receipts_on(),
            rng: Rng(seed | 1),
            next_id: (seed as u128) << 64,
            now_ms: 1_000_000,
            recalls: false,
            mentions: false,
            up_to: false,
            early: false,
            threads: false,
            sent: Vec::new(),
            direct_sent: Vec::new(),
        }
    }

    /// The workload of [`Workload::with_early_acks`], with one command in five (of the rest) a
    /// thread command on a message sent: a reply, a follow, a read with or without a receipt.
    pub fn with_threads(seed: u64) -> Self {
        Self {
            threads: true,
            ..Self::with_early_acks(seed)
        }
    }

    /// The workload of [`Workload::with_up_to`], with one command in five (of the rest) a read
    /// ack naming its conversation, often of a message not sent yet, and a short time to live
    /// for those, so some are applied and some dropped.
    pub fn with_early_acks(seed: u64) -> Self {
        let mut w = Self {
            early: true,
            ..Self::with_up_to(seed)
        };
        w.policy = w.policy.clone().with_early_ack_ttl_ms(20_000);
        w
    }

    /// The workload of [`Workload::with_mentions`], with one command in ten (of the rest) a read
    /// or an acknowledgement up to a message.
    pub fn with_up_to(seed: u64) -> Self {
        Self {
            up_to: true,
            ..Self::with_mentions(seed)
        }
    }

    /// The workload of [`Workload::with_recalls`], with one command in ten (of the rest) a send
    /// with mentions or a notification-mode change.
    pub fn with_mentions(seed: u64) -> Self {
        Self {
            mentions: true,
            ..Self::with_recalls(seed)
        }
    }

    /// The same workload with one command in ten a recall (a sender's, within the window, when
    /// the message is recent enough).
    pub fn with_recalls(seed: u64) -> Self {
        Self {
            recalls: true,
            ..Self::new(seed)
        }
    }

    /// A random command, possibly invalid (then decide rejects it).
    pub fn command(&mut self) -> Command {
        self.next_id += 1 << 8;
        self.now_ms += self.rng.below(1_000);
        let u = |r: &mut Rng| user(USERS[r.below(USERS.len() as u64) as usize]);
        let g = |r: &mut Rng| group(["g1", "g2"][r.below(2) as usize]);
        let m = |r: &mut Rng| MessageId(Uuid::from_u128(1 + r.below(40) as u128));
        let r = &mut self.rng;
        if self.recalls && r.below(10) == 0 {
            return Command {
                id: CommandId(Uuid::from_u128(self.next_id)),
                at_ms: self.now_ms,
                kind: CommandKind::RecallMessage {
                    message: m(r),
                    by: u(r),
                },
            };
        }
        if self.mentions && r.below(10) == 0 {
            let kind = if r.below(2) == 0 {
                CommandKind::SendMessageMentioning {
                    conversation: ConversationId::Group(g(r)),
                    message: m(r),
                    sender: u(r),
                    needs_group_ack: false,
                    mentions: vec![u(r)],
                    mention_all: r.below(3) == 0,
                }
            } else {
                CommandKind::SetNotificationMode {
                    conversation: ConversationId::Group(g(r)),
                    user: u(r),
                    mode: match r.below(3) {
                        0 => NotificationMode::All,
                        1 => NotificationMode::MentionsOnly,
                        _ => NotificationMode::Muted,
                    },
                }
            };
            return Command {
                id: CommandId(Uuid::from_u128(self.next_id)),
                at_ms: self.now_ms,
                kind,
            };
        }
        if self.threads && !self.sent.is_empty() && r.below(5) == 0 {
            let i = r.below(self.sent.len() as u64) as usize;
            let (conversation, root) = self.sent[i].clone();
            let who = u(r);
            let kind = match r.below(5) {
                0 | 1 => CommandKind::SendThreadReply {
                    conversation,
                    root,
                    // Reply ids apart from the messages' (1..=40).
                    message: MessageId(Uuid::from_u128(100 + r.below(60) as u128)),
                    sender: who,
                },
                2 => CommandKind::FollowThread {
                    conversation,
                    root,
                    user: who,
                },
                3 => CommandKind::AckThreadRead {
                    conversation,
                    root,
                    reader: who,
                },
                _ => CommandKind::MarkThreadRead {
                    conversation,
                    root,
                    reader: who,
                },
            };
            return Command {
                id: CommandId(Uuid::from_u128(self.next_id)),
                at_ms: self.now_ms,
                kind,
            };
        }
        if self.early && r.below(5) == 0 {
            let a = u(r);
            let mut b = u(r);
            while b == a {
                b = u(r);
            }
            return Command {
                id: CommandId(Uuid::from_u128(self.next_id)),
                at_ms: self.now_ms,
                kind: CommandKind::AckMessageReadIn {
                    conversation: ConversationId::direct(a.clone(), b).expect("distinct"),
                    message: m(r),
                    reader: a,
                },
            };
        }
        if self.up_to && !self.direct_sent.is_empty() && r.below(10) == 0 {
            let i = r.below(self.direct_sent.len() as u64) as usize;
            let (conversation, up_to, reader) = self.direct_sent[i].clone();
            let kind = if r.below(2) == 0 {
                CommandKind::AckConversationReadUpTo {
                    conversation,
                    reader,
                    up_to,
                }
            } else {
                CommandKind::MarkConversationReadUpTo {
                    conversation,
                    reader,
                    up_to,
                }
            };
            return Command {
                id: CommandId(Uuid::from_u128(self.next_id)),
                at_ms: self.now_ms,
                kind,
            };
        }
        let kind = match r.below(8) {
            0 | 1 => {
                let conversation = if r.below(2) == 0 {
                    let a = u(r);
                    let mut b = u(r);
                    while b == a {
                        b = u(r);
                    }
                    ConversationId::direct(a, b).expect("distinct")
                } else {
                    ConversationId::Group(g(r))
                };
                CommandKind::SendMessage {
                    conversation,
                    message: m(r),
                    sender: u(r),
                    needs_group_ack: r.below(2) == 0,
                }
            }
            2 => CommandKind::JoinGroup {
                group: g(r),
                user: u(r),
                role: Role::Member,
            },
            3 => CommandKind::Deliver {
                message: m(r),
                recipient: u(r),
            },
            4 => CommandKind::AckMessageRead {
                message: m(r),
                reader: u(r),
            },
            5 => CommandKind::AckGroupMessageRead {
                message: m(r),
                reader: u(r),
            },
            6 => CommandKind::MarkMessageRead {
                message: m(r),
                reader: u(r),
            },
            _ => CommandKind::LeaveGroup {
                group: g(r),
                user: u(r),
            },
        };
        Command {
            id: CommandId(Uuid::from_u128(self.next_id)),
            at_ms: self.now_ms,
            kind,
        }
    }

    /// The next accepted decision with events, as an append request at the log's version.
    pub fn next_request<B: Backend>(&mut self, log: &EventLog<B>) -> AppendRequest {
        loop {
            let c = self.command();
            if let Ok(d) = decide(&self.state, &self.policy, &c) {
                if let Some(first) = d.events.first() {
                    let conversation = first.body.conversation();
                    let expected_version = log.version(&conversation).expect("version readable");
                    return AppendRequest {
                        conversation,
                        expected_version,
                        events: d.events,
                    };
                }
            }
        }
    }

    pub fn apply(&mut self, r: &AppendRequest) {
        for e in &r.events {
            self.state.apply(e);
            if let EventBody::MessageSent {
                conversation,
                message,
                ..
            } = &e.body
            {
                self.sent.push((conversation.clone(), *message));
            }
            if let EventBody::MessageSent {
                conversation: c @ ConversationId::Direct { .. },
                message,
                sender,
                ..
            } = &e.body
            {
                if let Some(peer) = c.peer_of(sender) {
                    self.direct_sent.push((c.clone(), *message, peer.clone()));
                }
            }
        }
    }
}

/// The acknowledgement line of the crash child, in the format `receipt_workload::crash`
/// parses (`ack POSITION ID DIGEST`, the digest a CRC-32 of the event's `Debug` form). The
/// child is a binary of this crate and cannot use that dev-dependency; a line in any other
/// format fails the parent's check.
pub fn ack_line(position: u64, event: &Event) -> String {
    let digest = crc32fast::hash(format!("{event:?}").as_bytes());
    format!("ack {position} {} {digest:08x}", event.id)
}

/// Copies a directory tree (a fixture's sled files into a scratch directory).
#[allow(dead_code)] // not every test binary that includes this module copies fixtures
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A sled store at `dir` holding `events` appends to one direct chat, closed cleanly.
pub fn write_sled_store(dir: &std::path::Path, events: u128) {
    let log = SledLog::open_dir(dir, Durability::EveryAppend).unwrap();
    let c = chat("ann", "bob");
    for i in 0..events {
        log.append(request(&c, i as u64, &[i + 1])).unwrap();
    }
}

/// Truncates sled's `db` file to half: acknowledged events are gone.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn cut_db_in_half(dir: &std::path::Path) {
    let db = dir.join("db");
    let len = std::fs::metadata(&db).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
}
