//! The SQLite baselines as a service would run them. The strong design: client threads queue
//! their commands to one writer thread, which commits everything queued (up to
//! [`MAX_BATCH_EVENTS`]) in one transaction and then answers each client; queries read through
//! their own connection (WAL lets them run beside the writer). The per-connection variant
//! gives each client its own connection and transaction instead.
//!
//! What the baselines are spared, in their favour: they receive each command's decided events
//! (the validation a real service would do in SQL is not charged to them), and rejected or
//! no-op commands cost them nothing, while the engine decides every command and records
//! no-ops for idempotent retries.

use crate::check::check_projections;
use crate::plan::{Plan, Planned};
use crate::sqlite_schema::{ack_count_on, commit_on, open_connection, unread_on};
use crate::stores::{Client, Store};
use crate::Result;
use receipt_domain::{ConversationId, Event, MessageId, UserId};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

/// The writer commits at most this many events per transaction (a bulk batch of its own may be
/// larger: it is never split).
pub const MAX_BATCH_EVENTS: usize = 1_000;

/// Check COUNT(*) answers on this many evenly spaced (user, conversation) pairs: each is a
/// scan, and a large sample says the same as all of them.
const COUNT_CHECK_PAIRS: usize = 20_000;

struct Job {
    events: Vec<Event>,
    done: SyncSender<std::result::Result<(), String>>,
}

pub struct SqliteStore {
    path: PathBuf,
    counters: bool,
    per_connection: bool,
    queue: Mutex<Option<Sender<Job>>>,
    writer: Option<JoinHandle<()>>,
    reader: Mutex<Connection>,
}

fn writer_loop(mut conn: Connection, counters: bool, jobs: Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut n = first.events.len();
        let mut batch = vec![first];
        while n < MAX_BATCH_EVENTS {
            match jobs.try_recv() {
                Ok(job) => {
                    n += job.events.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        let committed = commit_on(&mut conn, counters, batch.iter().flat_map(|j| &j.events))
            .map_err(|e| e.to_string());
        for job in batch {
            // A client that gave up waiting is not the writer's problem.
            let _ = job.done.send(committed.clone());
        }
    }
}

impl SqliteStore {
    pub fn open(dir: &Path, counters: bool, per_connection: bool) -> Result<Self> {
        let path = dir.join("receipts.sqlite");
        let conn = open_connection(&path, counters)?;
        let (queue, jobs) = mpsc::channel();
        let writer = std::thread::spawn(move || writer_loop(conn, counters, jobs));
        Ok(Self {
            reader: Mutex::new(open_connection(&path, counters)?),
            path,
            counters,
            per_connection,
            queue: Mutex::new(Some(queue)),
            writer: Some(writer),
        })
    }

    fn submit(
        &self,
        events: Vec<Event>,
        done: &SyncSender<std::result::Result<(), String>>,
        reply: &Receiver<std::result::Result<(), String>>,
    ) -> Result {
        let queue = self
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or("the writer is closed")?;
        queue
            .send(Job {
                events,
                done: done.clone(),
            })
            .map_err(|_| "the writer stopped")?;
        reply.recv().map_err(|_| "the writer stopped")??;
        Ok(())
    }

    fn reader(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A client queueing to the writer, with its own reply channel.
struct QueueClient<'s> {
    store: &'s SqliteStore,
    done: SyncSender<std::result::Result<(), String>>,
    reply: Receiver<std::result::Result<(), String>>,
}

impl Client for QueueClient<'_> {
    fn command(&mut self, p: &Planned) -> Result {
        match &p.events {
            Some(events) if !events.is_empty() => {
                self.store.submit(events.clone(), &self.done, &self.reply)
            }
            _ => Ok(()),
        }
    }
}

/// A client with its own connection, one transaction per command.
struct ConnectionClient {
    conn: Connection,
    counters: bool,
}

impl Client for ConnectionClient {
    fn command(&mut self, p: &Planned) -> Result {
        match &p.events {
            Some(events) if !events.is_empty() => commit_on(&mut self.conn, self.counters, events),
            _ => Ok(()),
        }
    }
}

impl Store for SqliteStore {
    fn client(&self) -> Result<Box<dyn Client + '_>> {
        if self.per_connection {
            return Ok(Box::new(ConnectionClient {
                conn: open_connection(&self.path, self.counters)?,
                counters: self.counters,
            }));
        }
        let (done, reply) = mpsc::sync_channel(1);
        Ok(Box::new(QueueClient {
            store: self,
            done,
            reply,
        }))
    }

    fn batch(&self, commands: &[Planned]) -> Result {
        let events: Vec<Event> = commands
            .iter()
            .filter_map(|p| p.events.as_ref())
            .flatten()
            .cloned()
            .collect();
        if events.is_empty() {
            return Ok(());
        }
        let (done, reply) = mpsc::sync_channel(1);
        self.submit(events, &done, &reply)
    }

    fn unread(&self, user: &UserId, conversation: &ConversationId) -> Result<Option<u32>> {
        unread_on(&self.reader(), self.counters, user, conversation).map(Some)
    }

    fn group_ack_count(&self, message: &MessageId) -> Result<Option<u32>> {
        ack_count_on(&self.reader(), self.counters, message).map(Some)
    }

    fn verify(&self, plan: &Plan) -> Result {
        let max_pairs = if self.counters {
            usize::MAX
        } else {
            COUNT_CHECK_PAIRS
        };
        check_projections(self, plan, max_pairs)
    }

    fn close(mut self: Box<Self>) -> Result {
        drop(
            self.queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        if let Some(writer) = self.writer.take() {
            writer.join().map_err(|_| "the SQLite writer panicked")?;
        }
        Ok(())
    }
}
