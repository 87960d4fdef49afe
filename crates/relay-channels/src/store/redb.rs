//! The embedded backend: one redb file. Its readers never wait for the writer, so history
//! reads go straight to the file; the writer thread commits each batch with one fsync.

use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;

use super::{
    decode, encode, loaded_log_of, writer, Backend, Commits, Loaded, Op, Reads, Store, Table,
};
use crate::error::HubError;
use crate::hub::HubConfig;
use crate::model::{Account, Agent, Channel, Group, LogMeta, LoggedMessage, Service};

const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
const SERVICES: TableDefinition<&str, &[u8]> = TableDefinition::new("services");
const AGENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("agents");
const CHANNELS: TableDefinition<&str, &[u8]> = TableDefinition::new("channels");
const GROUPS: TableDefinition<&str, &[u8]> = TableDefinition::new("groups");
const UI: TableDefinition<&str, &[u8]> = TableDefinition::new("ui_state");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const MESSAGES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("messages");

impl Table {
    fn def(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        match self {
            Table::Accounts => ACCOUNTS,
            Table::Tokens => TOKENS,
            Table::Services => SERVICES,
            Table::Agents => AGENTS,
            Table::Channels => CHANNELS,
            Table::Groups => GROUPS,
            Table::Ui => UI,
        }
    }
}

fn log_meta_key(channel_id: &str) -> String {
    format!("log/{channel_id}")
}

/// Opens (creating if needed) the store file and loads everything, with the newest messages of
/// each channel that its share of the newest messages' budget holds (at most
/// `recent_in_memory`), and redb's page cache bounded by the page cache's share of
/// `cache_bytes`: its default, 1 GiB, would keep most of a deep history's pages in memory
/// once written or read.
pub(crate) fn open(path: &Path, cfg: &HubConfig) -> Result<(Store, Loaded), HubError> {
    let db = Database::builder()
        .set_cache_size(cfg.page_cache_bytes())
        .create(path)
        .map_err(HubError::store)?;
    let w = db.begin_write().map_err(HubError::store)?;
    {
        for t in [
            ACCOUNTS, TOKENS, SERVICES, AGENTS, CHANNELS, GROUPS, UI, META,
        ] {
            w.open_table(t).map_err(HubError::store)?;
        }
        w.open_table(MESSAGES).map_err(HubError::store)?;
        let mut meta = w.open_table(META).map_err(HubError::store)?;
        if meta.get("epoch").map_err(HubError::store)?.is_none() {
            let epoch = uuid::Uuid::new_v4().to_string();
            meta.insert("epoch", epoch.as_bytes())
                .map_err(HubError::store)?;
        }
    }
    w.commit().map_err(HubError::store)?;
    let loaded = load(&db, cfg.recent_in_memory, cfg.recent_bytes())?;
    let db = Arc::new(db);
    let (tx, rx) = mpsc::channel();
    let backend = Redb(db.clone());
    let commits = Arc::new(Commits::default());
    let writer_commits = commits.clone();
    std::thread::Builder::new()
        .name("channel-store".into())
        .spawn(move || writer(backend, rx, &writer_commits))?;
    let store = Store {
        tx,
        commits,
        reads: Reads::Redb(db),
        writer: None,
        // A file has one owner, the process that opened it: it never loses it.
        lost: Arc::new(super::LostSignal::new(None)),
    };
    Ok((store, loaded))
}

/// The writer's side of the file.
struct Redb(Arc<Database>);

impl Backend for Redb {
    fn commit(&mut self, batch: &[Op]) -> Result<(), HubError> {
        commit(&self.0, batch)
    }

    fn read(
        &mut self,
        channel_id: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<LoggedMessage>, HubError> {
        read_messages(&self.0, channel_id, from, to)
    }
}

/// A channel's logged messages with offsets in `from..to`, oldest first.
pub(super) fn read_messages(
    db: &Database,
    channel_id: &str,
    from: u64,
    to: u64,
) -> Result<Vec<LoggedMessage>, HubError> {
    let r = db.begin_read().map_err(HubError::store)?;
    let t = r.open_table(MESSAGES).map_err(HubError::store)?;
    let mut out = Vec::new();
    for entry in t
        .range((channel_id, from)..(channel_id, to))
        .map_err(HubError::store)?
    {
        let (_, v) = entry.map_err(HubError::store)?;
        out.push(decode(v.value())?);
    }
    Ok(out)
}

fn load(db: &Database, recent: usize, recent_bytes: usize) -> Result<Loaded, HubError> {
    let r = db.begin_read().map_err(HubError::store)?;
    let mut out = Loaded::default();
    fn all<T: DeserializeOwned>(
        r: &redb::ReadTransaction,
        def: TableDefinition<&str, &[u8]>,
    ) -> Result<Vec<(String, T)>, HubError> {
        let t = r.open_table(def).map_err(HubError::store)?;
        let mut v = Vec::new();
        for entry in t.iter().map_err(HubError::store)? {
            let (k, val) = entry.map_err(HubError::store)?;
            v.push((k.value().to_owned(), decode(val.value())?));
        }
        Ok(v)
    }
    let meta = r.open_table(META).map_err(HubError::store)?;
    out.epoch = meta
        .get("epoch")
        .map_err(HubError::store)?
        .map(|v| String::from_utf8_lossy(v.value()).into_owned())
        .unwrap_or_default();
    out.accounts = all::<Account>(&r, ACCOUNTS)?
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    out.tokens = all(&r, TOKENS)?;
    out.services = all::<Service>(&r, SERVICES)?
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    out.agents = all::<Agent>(&r, AGENTS)?
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    out.channels = all::<Channel>(&r, CHANNELS)?
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    out.groups = all::<Group>(&r, GROUPS)?
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    out.ui = all(&r, UI)?;
    let msgs = r.open_table(MESSAGES).map_err(HubError::store)?;
    for ch in &out.channels {
        let id = ch.channel_id.as_str();
        let log_meta: Option<LogMeta> = meta
            .get(log_meta_key(id).as_str())
            .map_err(HubError::store)?
            .map(|v| decode(v.value()))
            .transpose()?;
        let range = || {
            msgs.range((id, 0u64)..=(id, u64::MAX))
                .map_err(HubError::store)
        };
        let first = match range()?.next() {
            Some(e) => Some(e.map_err(HubError::store)?.0.value().1),
            None => None,
        };
        // Encoded, a message takes about half of what it takes in memory.
        let share = recent_bytes / 2 / out.channels.len().max(1);
        let mut newest = Vec::new();
        let mut bytes = 0;
        for entry in range()?.rev() {
            let (_, v) = entry.map_err(HubError::store)?;
            // The newest one always: it says where the log goes on.
            if !newest.is_empty() && (newest.len() >= recent || bytes + v.value().len() > share) {
                break;
            }
            bytes += v.value().len();
            newest.push(decode::<LoggedMessage>(v.value())?);
        }
        newest.reverse();
        if let Some(log) = loaded_log_of(first, newest, log_meta) {
            out.logs.insert(ch.channel_id.clone(), log);
        }
    }
    Ok(out)
}

fn commit(db: &Database, batch: &[Op]) -> Result<(), HubError> {
    let w = db.begin_write().map_err(HubError::store)?;
    {
        let mut msgs = w.open_table(MESSAGES).map_err(HubError::store)?;
        for op in batch {
            match op {
                Op::Put(t, k, v) => {
                    w.open_table(t.def())
                        .map_err(HubError::store)?
                        .insert(k.as_str(), v.as_slice())
                        .map_err(HubError::store)?;
                }
                Op::Del(t, k) => {
                    w.open_table(t.def())
                        .map_err(HubError::store)?
                        .remove(k.as_str())
                        .map_err(HubError::store)?;
                }
                Op::PutMessage(m) => {
                    let v = encode(&**m);
                    msgs.insert((m.body.channel_id.as_str(), m.offset), v.as_slice())
                        .map_err(HubError::store)?;
                }
                Op::PutMeta(ch, v, _) => {
                    w.open_table(META)
                        .map_err(HubError::store)?
                        .insert(log_meta_key(ch).as_str(), v.as_slice())
                        .map_err(HubError::store)?;
                }
                Op::TrimMessages(ch, below) => {
                    msgs.retain_in((ch.as_str(), 0u64)..(ch.as_str(), *below), |_, _| false)
                        .map_err(HubError::store)?;
                }
                Op::Sync(_) | Op::Read(..) => {}
            }
        }
    }
    w.commit().map_err(HubError::store)?;
    Ok(())
}
