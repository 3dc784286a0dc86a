//! The floor: raw sled with one key per event (position big-endian -> bincode event), plain
//! inserts and a flush per commit; projections by folding in memory, rebuilt by a full scan.

use crate::{Result, Variant};
use receipt_domain::{ConversationId, Event, MessageId, State, UserId};
use std::path::PathBuf;

pub struct RawSledVariant {
    dir: PathBuf,
    db: Option<sled::Db>,
    next: u64,
    state: State,
}

impl RawSledVariant {
    pub fn open(dir: PathBuf) -> Result<Self> {
        let db = sled::Config::new().path(&dir).flush_every_ms(None).open()?;
        Ok(Self {
            dir,
            db: Some(db),
            next: 0,
            state: State::new(),
        })
    }
}

impl Variant for RawSledVariant {
    fn name(&self) -> &'static str {
        "raw sled, key per event"
    }

    fn commit(&mut self, decisions: &[Vec<Event>]) -> Result {
        let db = self.db.as_ref().ok_or("closed")?;
        for e in decisions.iter().flatten() {
            let value = bincode::serde::encode_to_vec(e, bincode::config::standard())?;
            db.insert(self.next.to_be_bytes(), value)?;
            self.next += 1;
            self.state.apply(e);
        }
        db.flush()?;
        Ok(())
    }

    fn reopen(&mut self) -> Result {
        self.db = None;
        let db = sled::Config::new()
            .path(&self.dir)
            .flush_every_ms(None)
            .open()?;
        let mut state = State::new();
        let mut next = 0;
        for item in db.iter() {
            let (_, v) = item?;
            let (event, _): (Event, usize) =
                bincode::serde::decode_from_slice(&v, bincode::config::standard())?;
            state.apply(&event);
            next += 1;
        }
        self.state = state;
        self.next = next;
        self.db = Some(db);
        Ok(())
    }

    fn unread(&self, user: &UserId, conversation: &ConversationId) -> Result<u32> {
        Ok(self.state.unread_count(user, conversation))
    }

    fn group_ack_count(&self, message: &MessageId) -> Result<u32> {
        crate::ack_count_in(&self.state, message)
    }

    fn disk_bytes(&self) -> u64 {
        self.db
            .as_ref()
            .and_then(|d| d.size_on_disk().ok())
            .unwrap_or(0)
    }
}
