//! The embedded store: one redb file with a table of system data and a table of payloads, both
//! keyed by `seq`, so that a state change rewrites a small record and never the payload.

use std::path::Path;

use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Change, Store, StoreError};
use crate::message::Message;

const META: TableDefinition<u64, &[u8]> = TableDefinition::new("message_meta");
const PAYLOAD: TableDefinition<u64, &[u8]> = TableDefinition::new("message_payload");

pub struct RedbStore {
    db: Database,
}

impl RedbStore {
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        let db = Database::create(path).map_err(redb::Error::from)?;
        let txn = db.begin_write().map_err(redb::Error::from)?;
        txn.open_table(META).map_err(redb::Error::from)?;
        txn.open_table(PAYLOAD).map_err(redb::Error::from)?;
        txn.commit().map_err(redb::Error::from)?;
        Ok(RedbStore { db })
    }
}

impl Store for RedbStore {
    fn load(&self) -> Result<Vec<Message>, StoreError> {
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        let table = txn.open_table(META).map_err(redb::Error::from)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(redb::Error::from)? {
            let (_, value) = row.map_err(redb::Error::from)?;
            out.push(postcard::from_bytes(value.value())?);
        }
        Ok(out)
    }

    fn commit(&self, changes: &[Change], durable: bool) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(redb::Error::from)?;
        let durability = if durable { redb::Durability::Immediate } else { redb::Durability::None };
        txn.set_durability(durability).map_err(redb::Error::from)?;
        {
            let mut meta = txn.open_table(META).map_err(redb::Error::from)?;
            let mut payloads = txn.open_table(PAYLOAD).map_err(redb::Error::from)?;
            for change in changes {
                match change {
                    Change::Put { message, payload } => {
                        let bytes = postcard::to_allocvec(message)?;
                        meta.insert(message.seq, bytes.as_slice()).map_err(redb::Error::from)?;
                        if let Some(p) = payload {
                            payloads.insert(message.seq, p.as_ref()).map_err(redb::Error::from)?;
                        }
                    }
                    Change::Delete { seq } => {
                        meta.remove(seq).map_err(redb::Error::from)?;
                        payloads.remove(seq).map_err(redb::Error::from)?;
                    }
                    Change::Clear => {
                        meta.retain(|_, _| false).map_err(redb::Error::from)?;
                        payloads.retain(|_, _| false).map_err(redb::Error::from)?;
                    }
                }
            }
        }
        txn.commit().map_err(redb::Error::from)?;
        Ok(())
    }

    fn reads_in_place(&self) -> bool {
        true
    }

    fn read_payload(&self, seq: u64) -> Result<Option<Bytes>, StoreError> {
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        let table = txn.open_table(PAYLOAD).map_err(redb::Error::from)?;
        let value = table.get(seq).map_err(redb::Error::from)?;
        Ok(value.map(|v| Bytes::copy_from_slice(v.value())))
    }
}
