//! Per-channel message log: every accepted `message_up`/`message_down` gets the channel's next
//! offset. All are in the store up to the history limit; the newest ones, across all channels,
//! also stay in memory up to a byte budget ([`Recent`]), and history and resume read the store
//! for anything older. Resume replays what a reconnecting client missed, or says plainly that
//! it cannot.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use relay_wire::channel::inbound::ResumeFrom;
use relay_wire::channel::outbound::{self, MessageBody, Position};
use serde_json::{Map, Value};

use super::routing::Resolved;
use super::session::{text, ConnId, Identity};
use super::{Hub, State};
use crate::error::HubError;
use crate::model::{LogMeta, LoggedMessage};
use crate::store::LoadedLog;

mod recent;

use recent::Held;
pub(crate) use recent::Recent;

pub(crate) struct ChannelLog {
    /// Oldest offset still retained.
    first: u64,
    /// Offset the next message gets.
    next: u64,
    /// The newest messages that are in memory: always the newest, with no offset missing, so
    /// everything below the first of them is read from the store.
    recent: VecDeque<Held>,
    /// The channel's id, shared by its entries in [`Recent`]'s order (set at its first append).
    id: Option<Arc<str>>,
    /// The newest reservation asked of the store (see [`LogMeta`]).
    reserved: u64,
    /// The reservation known to be on disk (raised by the store's writer): offsets below it may
    /// be given.
    durable: Arc<AtomicU64>,
    /// Offset ranges that may have held messages a crash lost.
    holes: Vec<(u64, u64)>,
}

/// Offsets reserved at a time: one store record per this many messages of a channel, and at
/// most this many offsets skipped after a crash. The next one is asked for when half of the
/// current one is left, so fan-out waits for the disk only at a channel's first message after
/// a start.
const RESERVE: u64 = 4096;

impl ChannelLog {
    fn empty() -> Self {
        Self {
            first: 0,
            next: 0,
            recent: VecDeque::new(),
            id: None,
            reserved: 0,
            durable: Arc::default(),
            holes: Vec::new(),
        }
    }

    fn meta(&self, clean: bool) -> LogMeta {
        LogMeta {
            reserved: self.reserved,
            clean,
            holes: self.holes.clone(),
        }
    }

    /// The record a clean stop leaves: nothing reserved beyond the next offset (a message after
    /// it has to reserve again).
    pub(crate) fn clean_stop(&mut self) -> LogMeta {
        self.reserved = self.next;
        self.durable.store(self.next, Ordering::Release);
        self.meta(true)
    }

    /// The first offset held in memory: everything below it is read from the store.
    fn mem_first(&self) -> u64 {
        self.recent
            .front()
            .map(|h| h.msg.offset)
            .unwrap_or(self.next)
    }

    /// The holes that overlap `from..to`.
    fn holes_in(&self, from: u64, to: u64) -> Vec<(u64, u64)> {
        self.holes
            .iter()
            .copied()
            .filter(|&(start, end)| start < to && end > from)
            .collect()
    }
}

/// The logs a backend loaded, with the newest messages it loaded held in memory (all of them
/// durable) as far as the budget goes.
pub(crate) fn loaded(
    logs: HashMap<String, LoadedLog>,
    cfg: &super::HubConfig,
) -> (HashMap<String, ChannelLog>, Recent) {
    let mut recent = Recent::default();
    let mut out = HashMap::with_capacity(logs.len());
    for (ch, l) in logs {
        let mut log = ChannelLog {
            first: l.first,
            next: l.next,
            recent: VecDeque::new(),
            id: Some(Arc::from(ch.as_str())),
            reserved: l.meta.reserved,
            durable: Arc::new(AtomicU64::new(l.meta.reserved)),
            holes: l.meta.holes,
        };
        let skip = l.newest.len().saturating_sub(cfg.recent_in_memory.max(1));
        for m in l.newest.into_iter().skip(skip) {
            let id = log.id.clone().unwrap_or_else(|| Arc::from(ch.as_str()));
            recent.hold(&mut log, id, Arc::new(m), 0);
        }
        out.insert(ch, log);
    }
    recent.evict(&mut out, cfg.recent_bytes(), 0);
    (out, recent)
}

/// Most frames one resume request replays; the client asks again from the last offset it got.
const MAX_REPLAY: usize = 1000;

/// Offsets a resume reads at a time.
const REPLAY_BATCH: u64 = 4096;

fn visible(
    m: &LoggedMessage,
    who: &Identity,
    groups: &HashMap<String, crate::model::Group>,
) -> bool {
    match who {
        Identity::User { user_id } => m.kind == "message_down" && m.reached(user_id, groups),
        Identity::Service { service_id, .. } => {
            m.kind == "message_up" && m.service_id.as_deref() == Some(service_id)
        }
    }
}

/// How far back a menu click's message is looked for by its id, in messages.
const FIND_DEPTH: u64 = 1024;

impl Hub {
    /// Gives the message the channel's next offset and keeps it: in memory among the newest,
    /// and in the store (encoded and committed by the store's writer thread, not here).
    pub(crate) fn append(
        &self,
        st: &mut State,
        kind: &str,
        body: MessageBody,
        service_id: Option<String>,
        resolved: &Resolved,
    ) -> Arc<LoggedMessage> {
        let cfg = &self.inner.cfg;
        let resolved = if resolved.same_as_group {
            None
        } else {
            Some(resolved.users.clone())
        };
        let log = match st.logs.get_mut(&body.channel_id) {
            Some(log) => log,
            None => st
                .logs
                .entry(body.channel_id.clone())
                .or_insert_with(ChannelLog::empty),
        };
        if log.next + RESERVE / 2 >= log.reserved {
            log.reserved = log.next + RESERVE;
            self.inner.store.reserve_offsets(
                &body.channel_id,
                &log.meta(false),
                log.durable.clone(),
            );
        }
        if log.next >= log.durable.load(Ordering::Acquire) {
            if let Err(err) = self.inner.store.sync() {
                tracing::error!(%err, channel = %body.channel_id, "could not store the channel's offset reservation; a crash may reuse offsets");
            }
        }
        let m = Arc::new(LoggedMessage {
            offset: log.next,
            kind: kind.to_owned(),
            body,
            service_id,
            resolved,
        });
        log.next += 1;
        self.inner.store.put_message(m.clone());
        let tag = self.inner.store.commits().queued();
        let channel = log
            .id
            .get_or_insert_with(|| Arc::from(m.body.channel_id.as_str()))
            .clone();
        st.recent.hold(log, channel, m.clone(), tag);
        while log.recent.len() > cfg.recent_in_memory.max(1) {
            st.recent.drop_oldest(log);
        }
        // Trim in steps so the store deletes a batch at a time, not one row per message.
        let step = (cfg.history_limit / 16).max(1);
        if log.next - log.first > cfg.history_limit + step {
            log.first = log.next - cfg.history_limit;
            self.inner
                .store
                .trim_messages(&m.body.channel_id, log.first);
        }
        let durable = self.inner.store.commits().durable();
        st.recent.evict(&mut st.logs, cfg.recent_bytes(), durable);
        m
    }

    /// Logged messages of a channel with offsets in `from..to`, oldest first: those older than
    /// what is held in memory from the store.
    fn read_log(
        &self,
        st: &State,
        channel_id: &str,
        from: u64,
        to: u64,
    ) -> Vec<Arc<LoggedMessage>> {
        let Some(log) = st.logs.get(channel_id) else {
            return Vec::new();
        };
        let from = from.max(log.first);
        let to = to.min(log.next);
        let mem_first = log.mem_first();
        let mut out = Vec::new();
        if from < mem_first.min(to) {
            match self
                .inner
                .store
                .read_messages(channel_id, from, mem_first.min(to))
            {
                Ok(v) => out.extend(v.into_iter().map(Arc::new)),
                Err(e) => tracing::warn!(error = %e, "reading channel log failed"),
            }
        }
        out.extend(
            log.recent
                .iter()
                .map(|h| &h.msg)
                .skip_while(|m| m.offset < from)
                .take_while(|m| m.offset < to)
                .cloned(),
        );
        out
    }

    pub(crate) fn resume(
        &self,
        st: &mut State,
        id: ConnId,
        who: &Identity,
        channel_id: &str,
        epoch: Option<&str>,
        from: ResumeFrom,
    ) -> Result<Option<Map<String, Value>>, String> {
        let (first, next) = st
            .logs
            .get(channel_id)
            .map(|l| (l.first, l.next))
            .unwrap_or((0, 0));
        let Some(wanted) = from.first_wanted() else {
            // Only where the log ends: a client that starts watching learns where to resume
            // from should it be disconnected before its first message.
            return Ok(Some(resume_context(
                &self.inner.epoch,
                0,
                false,
                None,
                first,
                next,
                false,
            )));
        };
        let same_epoch = epoch.map(|e| e == self.inner.epoch).unwrap_or(true);
        let mut from = if same_epoch { wanted } else { first };
        let mut gap = !same_epoch;
        if from < first {
            gap = true;
            from = first;
        }
        if from > next {
            // An offset from the future: the client is confused or the log was reset.
            gap = true;
            from = first;
        }
        let mut replayed = 0usize;
        let mut last_seen = from.saturating_sub(1);
        let mut scanned_to = from;
        let mut more = false;
        while scanned_to < next && !more {
            // A range of offsets at a time, not a count of messages: a range may be empty (a
            // hole) without being the end.
            let upto = next.min(scanned_to + REPLAY_BATCH);
            let batch = self.read_log(st, channel_id, scanned_to, upto);
            scanned_to = upto;
            for m in &batch {
                if !visible(m, who, &st.groups) {
                    continue;
                }
                let pos = Position {
                    epoch: &self.inner.epoch,
                    offset: m.offset,
                };
                let kind = m.kind.as_str();
                let sid = if kind == "message_down" {
                    m.service_id.as_deref()
                } else {
                    None
                };
                st.sessions
                    .send(id, &text(outbound::message(kind, sid, &m.body, Some(pos))));
                replayed += 1;
                last_seen = m.offset;
                if replayed >= MAX_REPLAY {
                    more = true;
                    break;
                }
            }
        }
        let next_offset = if more { last_seen + 1 } else { next };
        let mut why = Vec::new();
        if gap {
            why.push(format!(
                "messages before offset {first} are no longer available; replayed from there"
            ));
        }
        let holes = st
            .logs
            .get(channel_id)
            .map(|l| l.holes_in(from, next_offset))
            .unwrap_or_default();
        for (a, b) in holes {
            gap = true;
            why.push(format!("messages at offsets {a} to {} may have been lost when the server stopped without a clean shutdown", b - 1));
        }
        let message = gap.then(|| why.join("; "));
        Ok(Some(resume_context(
            &self.inner.epoch,
            replayed,
            gap,
            message,
            first,
            next_offset,
            more,
        )))
    }

    pub(crate) fn find_visible_message(
        &self,
        st: &State,
        channel_id: &str,
        message_id: &str,
        user_id: &str,
    ) -> Option<LoggedMessage> {
        let log = st.logs.get(channel_id)?;
        let visible = |m: &LoggedMessage| {
            m.body.message_id == message_id
                && (m.body.sender == user_id || m.reached(user_id, &st.groups))
        };
        if let Some(m) = log.recent.iter().rev().find(|h| visible(&h.msg)) {
            return Some(LoggedMessage::clone(&m.msg));
        }
        // Beyond what memory holds, as far back as the newest `FIND_DEPTH` messages.
        let mem_first = log.mem_first();
        let from = log.next.saturating_sub(FIND_DEPTH);
        if from >= mem_first {
            return None;
        }
        self.read_log(st, channel_id, from, mem_first)
            .into_iter()
            .rev()
            .find(|m| visible(m))
            .map(|m| LoggedMessage::clone(&m))
    }

    /// Channel history for `caller`: messages it sent or was a resolved recipient of (all of
    /// them for the owner of the channel's bound service), newest first. `before` is a
    /// `message_id` or a millisecond timestamp; `None` means the latest.
    pub fn history(
        &self,
        caller: &str,
        channel_id: &str,
        limit: usize,
        before: Option<&str>,
    ) -> Result<Vec<MessageBody>, HubError> {
        let st = self.lock();
        let ch = st
            .channels
            .get(channel_id)
            .ok_or_else(|| HubError::NotFound(format!("channel {channel_id}")))?;
        let owns_service = ch
            .service_id
            .as_ref()
            .and_then(|s| st.services.get(s))
            .map(|s| s.owner == caller)
            .unwrap_or(false);
        if !ch.is_member(caller) && !owns_service {
            return Err(HubError::Forbidden(format!(
                "not a member of channel {channel_id}"
            )));
        }
        let Some(log) = st.logs.get(channel_id) else {
            return Ok(Vec::new());
        };
        let before_ts = before.and_then(|b| b.parse::<i64>().ok());
        let mut before_id = before.filter(|_| before_ts.is_none()).map(str::to_owned);
        let mut out = Vec::new();
        let mut end = log.next;
        // Read back a little more than asked for, then more each time: what memory does not
        // hold comes from the store, and most calls want only the newest few.
        let mut chunk = (limit as u64).saturating_add(16).min(1024);
        let mem_first = log.mem_first();
        while end > log.first && out.len() < limit {
            let mut start = end.saturating_sub(chunk).max(log.first);
            if end > mem_first {
                // What memory holds first: the store only once it is used up.
                start = start.max(mem_first);
            }
            chunk = (chunk * 2).min(4096);
            let read = self.read_log(&st, channel_id, start, end);
            for m in read.iter().rev().filter(|m| m.offset < end) {
                if let Some(id) = &before_id {
                    if &m.body.message_id == id {
                        before_id = None;
                    }
                    continue;
                }
                if before_ts.map(|t| m.body.timestamp >= t).unwrap_or(false) {
                    continue;
                }
                let mine = owns_service || m.body.sender == caller || m.reached(caller, &st.groups);
                if mine {
                    out.push(m.body.clone());
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            end = start;
        }
        Ok(out)
    }
}

/// The `context` of a resume's `copy`.
fn resume_context(
    epoch: &str,
    replayed: usize,
    gap: bool,
    message: Option<String>,
    first: u64,
    next_offset: u64,
    more: bool,
) -> Map<String, Value> {
    let mut ctx = Map::new();
    ctx.insert("epoch".into(), epoch.into());
    ctx.insert("replayed".into(), replayed.into());
    ctx.insert("gap".into(), gap.into());
    if let Some(message) = message {
        ctx.insert("message".into(), message.into());
    }
    ctx.insert("first_offset".into(), first.into());
    ctx.insert("next_offset".into(), next_offset.into());
    ctx.insert("more".into(), more.into());
    ctx
}
