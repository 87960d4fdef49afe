//! The channel messages kept in memory: the newest ones across all channels, up to a byte
//! budget, so that memory follows the budget and not the number of channels or the depth of
//! their histories. The oldest held message of all channels goes first; a message still waiting
//! for its commit is never dropped (the store could not give it back yet, and the writer's
//! queue holds it anyway), so the budget may be exceeded by what the writer has not committed.

use std::collections::{HashMap, VecDeque};
use std::mem::size_of;
use std::sync::Arc;

use serde_json::Value;

use super::ChannelLog;
use crate::model::LoggedMessage;

/// A message held in a channel's `recent`.
pub(crate) struct Held {
    pub(super) msg: Arc<LoggedMessage>,
    /// What it takes in memory, by [`approx_bytes`].
    bytes: usize,
    /// Its change's number in the store's commits: it may go once that is durable.
    tag: u64,
}

/// What all channels hold in memory together.
#[derive(Default)]
pub(crate) struct Recent {
    /// Bytes of the messages held.
    bytes: usize,
    /// Messages held.
    live: usize,
    /// The channel and offset of every message held, oldest first, plus some no longer held
    /// (dropped by the per-channel cap), skipped when they reach the front.
    order: VecDeque<(Arc<str>, u64)>,
}

impl Recent {
    /// Keeps `msg`, just appended to `log` (the channel `channel`) and queued for the store
    /// as change `tag`.
    pub(super) fn hold(
        &mut self,
        log: &mut ChannelLog,
        channel: Arc<str>,
        msg: Arc<LoggedMessage>,
        tag: u64,
    ) {
        let bytes = approx_bytes(&msg);
        self.order.push_back((channel, msg.offset));
        log.recent.push_back(Held { msg, bytes, tag });
        self.bytes += bytes;
        self.live += 1;
    }

    /// Drops the oldest message `log` holds (its per-channel cap).
    pub(super) fn drop_oldest(&mut self, log: &mut ChannelLog) {
        if let Some(h) = log.recent.pop_front() {
            self.bytes -= h.bytes;
            self.live -= 1;
        }
    }

    /// Drops the oldest messages of all channels until what is held fits in `budget` bytes or
    /// the oldest is not yet durable (changes up to `durable` are).
    pub(super) fn evict(
        &mut self,
        logs: &mut HashMap<String, ChannelLog>,
        budget: usize,
        durable: u64,
    ) {
        while self.bytes > budget {
            let Some((channel, offset)) = self.order.front().cloned() else {
                break;
            };
            // Not held any more when its channel's cap dropped it already.
            let held = logs
                .get_mut(&*channel)
                .filter(|l| l.recent.front().is_some_and(|h| h.msg.offset == offset));
            if let Some(log) = held {
                if log.recent.front().is_some_and(|h| h.tag > durable) {
                    break;
                }
                self.drop_oldest(log);
            }
            self.order.pop_front();
        }
        if self.order.len() > 2 * self.live + 1024 {
            self.order.retain(|(channel, offset)| {
                logs.get(&**channel)
                    .and_then(|l| l.recent.front())
                    .is_some_and(|h| h.msg.offset <= *offset)
            });
        }
    }

    /// Bytes held across all channels.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Messages held across all channels.
    pub(crate) fn messages(&self) -> usize {
        self.live
    }
}

/// About what a logged message takes in memory: its structs, its strings and its JSON values,
/// with the allocator's and the map's overhead guessed at 16 bytes an allocation. Close enough
/// to keep the budget honest without serialising anything.
pub(super) fn approx_bytes(m: &LoggedMessage) -> usize {
    const ALLOC: usize = 16;
    let s = |s: &String| {
        if s.capacity() == 0 {
            0
        } else {
            s.capacity() + ALLOC
        }
    };
    let b = &m.body;
    let mut n = ALLOC + 2 * size_of::<usize>() + size_of::<LoggedMessage>();
    n += s(&m.kind) + s(&b.subtype) + s(&b.channel_id) + s(&b.recipients);
    n += s(&b.sender) + s(&b.message_id);
    n += value_bytes(&b.content) + value_bytes(&b.context);
    n += m.service_id.as_ref().map_or(0, s);
    if let Some(list) = &m.resolved {
        n += ALLOC
            + list
                .iter()
                .map(|r| size_of::<String>() + s(r))
                .sum::<usize>();
    }
    // The entry in `Held` and in `Recent::order`.
    n + size_of::<Held>() + size_of::<(Arc<str>, u64)>()
}

/// Heap bytes under a JSON value (its own struct is counted by whoever holds it).
fn value_bytes(v: &Value) -> usize {
    const ALLOC: usize = 16;
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        Value::String(s) => s.capacity() + ALLOC,
        Value::Array(a) => {
            ALLOC + a.capacity() * size_of::<Value>() + a.iter().map(value_bytes).sum::<usize>()
        }
        Value::Object(o) => {
            ALLOC
                + o.iter()
                    .map(|(k, v)| {
                        // An index-map entry: its hash, key and value, and its slot in the index.
                        3 * size_of::<usize>()
                            + size_of::<String>()
                            + size_of::<Value>()
                            + k.capacity()
                            + ALLOC
                            + value_bytes(v)
                    })
                    .sum::<usize>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relay_wire::channel::outbound::MessageBody;

    fn message(channel: &str, offset: u64, text: &str) -> Arc<LoggedMessage> {
        Arc::new(LoggedMessage {
            offset,
            kind: "message_down".into(),
            body: MessageBody {
                subtype: "text".into(),
                channel_id: channel.into(),
                content: serde_json::json!({"text": text}),
                recipients: "g".into(),
                timestamp: 0,
                context: serde_json::json!({}),
                sender: "s".into(),
                message_id: format!("{channel}-{offset}"),
            },
            service_id: Some("svc".into()),
            resolved: None,
        })
    }

    /// Holds `n` messages in each of `channels`, round robin, each with its own tag, and
    /// evicts after each as `append` does.
    fn fill(
        recent: &mut Recent,
        logs: &mut HashMap<String, ChannelLog>,
        channels: &[&str],
        n: u64,
        budget: usize,
        durable: impl Fn(u64) -> u64,
    ) {
        let mut tag = 0;
        for offset in 0..n {
            for &ch in channels {
                tag += 1;
                let log = logs.entry(ch.into()).or_insert_with(ChannelLog::empty);
                let m = message(ch, offset, &"x".repeat(200));
                recent.hold(log, Arc::from(ch), m, tag);
                recent.evict(logs, budget, durable(tag));
            }
        }
    }

    /// Each channel still holds its newest messages, contiguous up to the last.
    fn assert_newest(logs: &HashMap<String, ChannelLog>, n: u64) {
        for (ch, log) in logs {
            let offsets: Vec<u64> = log.recent.iter().map(|h| h.msg.offset).collect();
            if let Some(first) = offsets.first() {
                assert_eq!(offsets, (*first..n).collect::<Vec<_>>(), "{ch}");
            }
        }
    }

    #[test]
    fn what_all_channels_hold_stays_within_the_budget_and_is_their_newest() {
        let (mut recent, mut logs) = (Recent::default(), HashMap::new());
        let budget = 20_000;
        fill(
            &mut recent,
            &mut logs,
            &["a", "b", "c"],
            1000,
            budget,
            |t| t,
        );
        assert!(recent.bytes() <= budget, "{} held", recent.bytes());
        let held: usize = logs.values().map(|l| l.recent.len()).sum();
        assert!(held > 10, "only {held} held");
        assert_eq!(held, recent.live);
        assert_newest(&logs, 1000);
        // The oldest go first whichever channel they are in: the channels hold about as many.
        let lens: Vec<usize> = logs.values().map(|l| l.recent.len()).collect();
        assert!(
            lens.iter().max().unwrap() - lens.iter().min().unwrap() <= 1,
            "{lens:?}"
        );
        assert!(recent.order.len() <= 2 * recent.live + 1024);
    }

    #[test]
    fn messages_not_yet_committed_are_kept_beyond_the_budget() {
        let (mut recent, mut logs) = (Recent::default(), HashMap::new());
        // Nothing durable: nothing may go.
        fill(&mut recent, &mut logs, &["a"], 100, 1000, |_| 0);
        assert_eq!(logs["a"].recent.len(), 100);
        // Committed: down to the budget at the next eviction.
        recent.evict(&mut logs, 1000, u64::MAX);
        assert!(recent.bytes() <= 1000);
        assert_newest(&logs, 100);
    }

    #[test]
    fn the_per_channel_cap_keeps_the_accounts_right() {
        let (mut recent, mut logs) = (Recent::default(), HashMap::new());
        let mut tag = 0;
        for offset in 0..5000 {
            tag += 1;
            let log = logs.entry("a".into()).or_insert_with(ChannelLog::empty);
            recent.hold(log, Arc::from("a"), message("a", offset, "hi"), tag);
            while log.recent.len() > 4 {
                recent.drop_oldest(log);
            }
            recent.evict(&mut logs, usize::MAX, tag);
        }
        assert_eq!(recent.live, 4);
        let one = approx_bytes(&message("a", 0, "hi"));
        assert_eq!(recent.bytes(), 4 * one);
        // Entries the cap dropped do not pile up.
        assert!(recent.order.len() <= 2 * 4 + 1024, "{}", recent.order.len());
    }
}
