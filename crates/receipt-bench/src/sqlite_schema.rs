//! The SQLite baselines' schema, writes and queries: what a user would write instead of this
//! engine.
//!
//! Both append every event to an `events` table and keep the facts the queries need (messages
//! with their sequence, membership intervals, per-message reads, conversation-wide read
//! watermarks) in the same transaction. The strong variant (`counters: true`) also keeps an
//! unread counter per (user, conversation) and an ack counter per message, updated in that
//! transaction, and answers queries with one primary-key lookup; the naive variant computes
//! unread with `COUNT(*)` at read time. WAL journal; `synchronous=FULL`, so a commit is durable
//! like the engine's flush.

use crate::Result;
use receipt_domain::{ConversationId, Event, EventBody, MessageId, UserId};
use rusqlite::{params, Connection, OptionalExtension};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events(position INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, stream TEXT NOT NULL, kind TEXT NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS messages(id BLOB PRIMARY KEY, conv TEXT NOT NULL, seq INTEGER NOT NULL, sender TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS messages_by_conv ON messages(conv, seq);
CREATE TABLE IF NOT EXISTS conv_len(conv TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS membership(conv TEXT NOT NULL, user TEXT NOT NULL, start INTEGER NOT NULL, stop INTEGER);
CREATE INDEX IF NOT EXISTS membership_by_user ON membership(conv, user);
CREATE TABLE IF NOT EXISTS reads(user TEXT NOT NULL, msg BLOB NOT NULL, PRIMARY KEY(user, msg)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS watermarks(user TEXT NOT NULL, conv TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(user, conv)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS acks(msg BLOB NOT NULL, user TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY(msg, user)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS recalled(msg BLOB PRIMARY KEY) WITHOUT ROWID;
";

const COUNTERS: &str = "
CREATE TABLE IF NOT EXISTS unread(user TEXT NOT NULL, conv TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY(user, conv)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ack_count(msg BLOB PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
";

fn bytes(m: &MessageId) -> Vec<u8> {
    m.0.as_bytes().to_vec()
}

/// The events, in position order (for a scan + fold rebuild).
pub fn scan_events(conn: &Connection, mut visit: impl FnMut(Event)) -> Result {
    let mut stmt = conn.prepare("SELECT body FROM events ORDER BY position")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let body: Vec<u8> = row.get(0)?;
        let (event, _): (Event, usize) =
            bincode::serde::decode_from_slice(&body, bincode::config::standard())?;
        visit(event);
    }
    Ok(())
}

/// A connection as both baselines use it: WAL, `synchronous=FULL`, schema in place.
pub fn open_connection(path: &std::path::Path, counters: bool) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // The default page cache is 2,000 pages (8 MiB): the counter fan-out (a row per member
    // for each group message) then reads the disk once the tables outgrow it. A competent
    // user gives SQLite memory comparable to what the engine holds: 256 MiB.
    conn.pragma_update(None, "cache_size", -262_144)?;
    conn.busy_timeout(std::time::Duration::from_secs(60))?;
    conn.execute_batch(SCHEMA)?;
    if counters {
        conn.execute_batch(COUNTERS)?;
    }
    Ok(conn)
}

/// Commits `events` as one durable transaction on `conn`.
pub fn commit_on<'e>(
    conn: &mut Connection,
    counters: bool,
    events: impl IntoIterator<Item = &'e Event>,
) -> Result {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for e in events {
        apply(&tx, counters, e)?;
    }
    tx.commit()?;
    Ok(())
}

/// Applies one event inside the caller's transaction.
fn apply(tx: &Connection, counters: bool, e: &Event) -> Result {
    let stream = e.body.conversation().to_string();
    let body = bincode::serde::encode_to_vec(e, bincode::config::standard())?;
    tx.prepare_cached("INSERT INTO events(id, stream, kind, body) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![
            e.id.0.as_bytes().to_vec(),
            stream,
            e.body.kind_name(),
            body
        ])?;
    let len = |conv: &str| -> Result<i64> {
        Ok(tx
            .prepare_cached("SELECT n FROM conv_len WHERE conv = ?1")?
            .query_row([conv], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    };
    match &e.body {
        EventBody::MessageSent {
            conversation,
            message,
            sender,
            ..
        } => {
            let conv = conversation.to_string();
            let seq = len(&conv)?;
            if let ConversationId::Direct { low, high } = conversation {
                if seq == 0 {
                    for u in [low, high] {
                        tx.prepare_cached("INSERT INTO membership(conv, user, start, stop) VALUES (?1, ?2, 0, NULL)")?
                            .execute(params![conv, u.as_str()])?;
                    }
                }
            }
            tx.prepare_cached(
                "INSERT INTO messages(id, conv, seq, sender) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![bytes(message), conv, seq, sender.as_str()])?;
            tx.prepare_cached("INSERT INTO conv_len(conv, n) VALUES (?1, 1) ON CONFLICT(conv) DO UPDATE SET n = n + 1")?
                .execute([&conv])?;
            if counters {
                // The fan-out a counter table needs: one row per current participant.
                tx.prepare_cached(
                    "INSERT INTO unread(user, conv, n) SELECT user, conv, 1 FROM membership
                     WHERE conv = ?1 AND stop IS NULL AND user != ?2
                     ON CONFLICT(user, conv) DO UPDATE SET n = n + 1",
                )?
                .execute(params![conv, sender.as_str()])?;
            }
        }
        EventBody::MemberJoined { group, user, .. } => {
            let conv = ConversationId::Group(group.clone()).to_string();
            let seq = len(&conv)?;
            tx.prepare_cached(
                "INSERT INTO membership(conv, user, start, stop) VALUES (?1, ?2, ?3, NULL)",
            )?
            .execute(params![conv, user.as_str(), seq])?;
        }
        EventBody::MemberLeft { group, user } => {
            let conv = ConversationId::Group(group.clone()).to_string();
            let seq = len(&conv)?;
            tx.prepare_cached(
                "UPDATE membership SET stop = ?3 WHERE conv = ?1 AND user = ?2 AND stop IS NULL",
            )?
            .execute(params![conv, user.as_str(), seq])?;
        }
        EventBody::ReadAcked {
            message, reader, ..
        }
        | EventBody::MessageMarkedRead {
            message, reader, ..
        } => {
            read_one(tx, counters, message, reader)?;
        }
        EventBody::GroupReadAcked {
            message, reader, ..
        } => {
            tx.prepare_cached("INSERT INTO acks(msg, user, at) VALUES (?1, ?2, ?3)")?
                .execute(params![bytes(message), reader.as_str(), e.at_ms as i64])?;
            if counters {
                tx.prepare_cached("INSERT INTO ack_count(msg, n) VALUES (?1, 1) ON CONFLICT(msg) DO UPDATE SET n = n + 1")?
                    .execute([bytes(message)])?;
            }
            read_one(tx, counters, message, reader)?;
        }
        EventBody::ConversationAcked {
            conversation,
            reader,
        }
        | EventBody::ConversationMarkedRead {
            conversation,
            reader,
        } => {
            let conv = conversation.to_string();
            let seq = len(&conv)?;
            tx.prepare_cached(
                "INSERT INTO watermarks(user, conv, seq) VALUES (?1, ?2, ?3) ON CONFLICT(user, conv) DO UPDATE SET seq = ?3",
            )?
            .execute(params![reader.as_str(), conv, seq])?;
            if counters {
                tx.prepare_cached("UPDATE unread SET n = 0 WHERE user = ?1 AND conv = ?2")?
                    .execute(params![reader.as_str(), conv])?;
            }
        }
        EventBody::ConversationAckedUpTo {
            conversation,
            reader,
            up_to,
        }
        | EventBody::ConversationMarkedReadUpTo {
            conversation,
            reader,
            up_to,
        } => {
            let conv = conversation.to_string();
            let last: i64 = tx
                .prepare_cached("SELECT seq FROM messages WHERE id = ?1")?
                .query_row([bytes(up_to)], |r| r.get(0))?;
            let old: i64 = tx
                .prepare_cached("SELECT seq FROM watermarks WHERE user = ?1 AND conv = ?2")?
                .query_row(params![reader.as_str(), conv], |r| r.get(0))
                .optional()?
                .unwrap_or(0);
            if last + 1 > old {
                if counters {
                    // The counter drops by what was unread between the watermark and the position.
                    let newly: i64 = tx
                        .prepare_cached(
                            "SELECT COUNT(*) FROM messages m WHERE m.conv = ?2 AND m.sender != ?1
                             AND m.seq >= ?3 AND m.seq <= ?4
                             AND EXISTS (SELECT 1 FROM membership p WHERE p.conv = ?2 AND p.user = ?1
                                         AND m.seq >= p.start AND (p.stop IS NULL OR m.seq < p.stop))
                             AND NOT EXISTS (SELECT 1 FROM reads r WHERE r.user = ?1 AND r.msg = m.id)
                             AND NOT EXISTS (SELECT 1 FROM recalled x WHERE x.msg = m.id)",
                        )?
                        .query_row(params![reader.as_str(), conv, old, last], |r| r.get(0))?;
                    tx.prepare_cached(
                        "UPDATE unread SET n = n - ?3 WHERE user = ?1 AND conv = ?2",
                    )?
                    .execute(params![reader.as_str(), conv, newly])?;
                }
                tx.prepare_cached(
                    "INSERT INTO watermarks(user, conv, seq) VALUES (?1, ?2, ?3) ON CONFLICT(user, conv) DO UPDATE SET seq = ?3",
                )?
                .execute(params![reader.as_str(), conv, last + 1])?;
            }
        }
        EventBody::MessageRecalled { message, .. } => {
            tx.prepare_cached("INSERT OR IGNORE INTO recalled(msg) VALUES (?1)")?
                .execute([bytes(message)])?;
            if counters {
                // The fan-out a counter table needs: every participant when it was sent, but its
                // sender, who had not read it.
                tx.prepare_cached(
                    "UPDATE unread SET n = n - 1 WHERE conv = (SELECT conv FROM messages WHERE id = ?1)
                     AND user != (SELECT sender FROM messages WHERE id = ?1)
                     AND EXISTS (SELECT 1 FROM membership p, messages m WHERE m.id = ?1
                         AND p.conv = m.conv AND p.user = unread.user
                         AND m.seq >= p.start AND (p.stop IS NULL OR m.seq < p.stop))
                     AND (SELECT seq FROM messages WHERE id = ?1) >= COALESCE(
                         (SELECT seq FROM watermarks w WHERE w.user = unread.user AND w.conv = unread.conv), 0)
                     AND NOT EXISTS (SELECT 1 FROM reads r WHERE r.user = unread.user AND r.msg = ?1)",
                )?
                .execute([bytes(message)])?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// One message read by one user (events only exist for recipients, never for the sender).
fn read_one(tx: &Connection, counters: bool, message: &MessageId, reader: &UserId) -> Result {
    let inserted = tx
        .prepare_cached("INSERT OR IGNORE INTO reads(user, msg) VALUES (?1, ?2)")?
        .execute(params![reader.as_str(), bytes(message)])?;
    if counters && inserted == 1 {
        // Only a read above the conversation-wide watermark was still counted as unread.
        tx.prepare_cached(
            "UPDATE unread SET n = n - 1 WHERE user = ?1 AND conv = (SELECT conv FROM messages WHERE id = ?2)
             AND (SELECT seq FROM messages WHERE id = ?2) >= COALESCE(
                 (SELECT seq FROM watermarks w WHERE w.user = ?1 AND w.conv = unread.conv), 0)",
        )?
        .execute(params![reader.as_str(), bytes(message)])?;
    }
    Ok(())
}

/// Unread messages of `user` in `conversation`: a counter lookup, or `COUNT(*)`.
pub fn unread_on(
    conn: &Connection,
    counters: bool,
    user: &UserId,
    conversation: &ConversationId,
) -> Result<u32> {
    let conv = conversation.to_string();
    let n: Option<i64> = if counters {
        conn.prepare_cached("SELECT n FROM unread WHERE user = ?1 AND conv = ?2")?
            .query_row(params![user.as_str(), conv], |r| r.get(0))
            .optional()?
    } else {
        Some(
            conn.prepare_cached(
                "SELECT COUNT(*) FROM messages m WHERE m.conv = ?2 AND m.sender != ?1
                 AND EXISTS (SELECT 1 FROM membership p WHERE p.conv = ?2 AND p.user = ?1
                             AND m.seq >= p.start AND (p.stop IS NULL OR m.seq < p.stop))
                 AND m.seq >= COALESCE((SELECT seq FROM watermarks w WHERE w.user = ?1 AND w.conv = ?2), 0)
                 AND NOT EXISTS (SELECT 1 FROM reads r WHERE r.user = ?1 AND r.msg = m.id)
                 AND NOT EXISTS (SELECT 1 FROM recalled x WHERE x.msg = m.id)",
            )?
            .query_row(params![user.as_str(), conv], |r| r.get(0))?,
        )
    };
    Ok(u32::try_from(n.unwrap_or(0))?)
}

/// Group read acks of `message`: a counter lookup, or `COUNT(*)`.
pub fn ack_count_on(conn: &Connection, counters: bool, message: &MessageId) -> Result<u32> {
    let n: i64 = if counters {
        conn.prepare_cached("SELECT n FROM ack_count WHERE msg = ?1")?
            .query_row([bytes(message)], |r| r.get(0))
            .optional()?
            .unwrap_or(0)
    } else {
        conn.prepare_cached("SELECT COUNT(*) FROM acks WHERE msg = ?1")?
            .query_row([bytes(message)], |r| r.get(0))?
    };
    Ok(u32::try_from(n)?)
}

/// Bytes of the database, its WAL and its shared-memory index.
pub fn disk_bytes(path: &std::path::Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
        .map(|m| m.len())
        .sum()
}
