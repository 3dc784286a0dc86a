//! The floor: raw sled with one key per event (a global counter, big-endian, to the bincode
//! event), and per commit sled's `flush` plus `fdatasync` of sled's data file, the same sync
//! calls the engine's commit makes (sled's own flush is only `sync_file_range`). No
//! projections, no index, no idempotency: what storing the events alone costs.

use crate::plan::{Plan, Planned};
use crate::stores::{Client, Store};
use crate::Result;
use receipt_domain::{ConversationId, Event, EventId, MessageId, UserId};
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct RawSled {
    db: sled::Db,
    data: File,
    next: AtomicU64,
}

impl RawSled {
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join("raw-sled");
        let db = sled::Config::new()
            .path(&path)
            .flush_every_ms(None)
            .open()?;
        let data = File::open(path.join("db"))?;
        Ok(Self {
            next: AtomicU64::new(db.len() as u64),
            db,
            data,
        })
    }

    fn write<'e>(&self, events: impl IntoIterator<Item = &'e Event>) -> Result {
        let mut wrote = false;
        for e in events {
            let key = self.next.fetch_add(1, Ordering::SeqCst);
            let value = bincode::serde::encode_to_vec(e, bincode::config::standard())?;
            self.db.insert(key.to_be_bytes(), value)?;
            wrote = true;
        }
        if wrote {
            self.db.flush()?;
            self.data.sync_data()?;
        }
        Ok(())
    }
}

impl Client for &RawSled {
    fn command(&mut self, p: &Planned) -> Result {
        self.write(p.events.iter().flatten())
    }
}

impl Store for RawSled {
    fn client(&self) -> Result<Box<dyn Client + '_>> {
        Ok(Box::new(self))
    }

    fn batch(&self, commands: &[Planned]) -> Result {
        self.write(commands.iter().filter_map(|p| p.events.as_ref()).flatten())
    }

    fn unread(&self, _: &UserId, _: &ConversationId) -> Result<Option<u32>> {
        Ok(None)
    }

    fn group_ack_count(&self, _: &MessageId) -> Result<Option<u32>> {
        Ok(None)
    }

    /// Every accepted event is stored, once, by id.
    fn verify(&self, plan: &Plan) -> Result {
        let mut stored = rustc_hash::FxHashSet::<EventId>::default();
        for item in self.db.iter() {
            let (_, value) = item?;
            let (event, _): (Event, usize) =
                bincode::serde::decode_from_slice(&value, bincode::config::standard())?;
            if !stored.insert(event.id) {
                return Err(format!("raw sled stored event {} twice", event.id.0).into());
            }
        }
        let mut planned = 0usize;
        for e in plan.all_events() {
            planned += 1;
            if !stored.contains(&e.id) {
                return Err(format!("raw sled lost event {}", e.id.0).into());
            }
        }
        if planned != stored.len() {
            return Err(format!(
                "raw sled holds {} events, {planned} were planned",
                stored.len()
            )
            .into());
        }
        Ok(())
    }

    fn close(self: Box<Self>) -> Result {
        self.db.flush()?;
        self.data.sync_data()?;
        Ok(())
    }
}
