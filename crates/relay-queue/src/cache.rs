//! The records and payloads of recently written or read messages, bounded by bytes, so that the
//! common cycle (a push, soon pulled, then acked) never reads the store, while memory stays at
//! what the operator allows however many messages are stored.
//!
//! A record written but not yet committed is pinned: the store does not have it yet, so
//! evicting it would let the next reader see, and build on, the older version the store holds.
//! The engine unpins it once the commit is answered; pinned records are never evicted, so the
//! cache may pass its bound by what is in flight.
//!
//! Eviction is least recently used, approximated: every use pushes a stamp onto a queue, and
//! eviction pops stamps from the front, skipping those a later use has superseded.

use std::collections::VecDeque;

use hashbrown::HashMap;

use bytes::Bytes;

use crate::message::Message;

/// What a cached message costs besides its strings and payload: its map slot, counted twice
/// since a hash table runs between half and seven eighths full, and two use stamps.
const SLOT: usize = 2 * size_of::<(u64, Cached)>() + 2 * size_of::<(u64, u64)>();

/// What a heap block of `n` bytes takes from the allocator, header and rounding included.
fn block(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        (n + 8).div_ceil(16) * 16 + 8
    }
}

/// The bytes a cached message holds, as close to what it costs in RSS as can be counted.
fn footprint(message: &Message, payload: Option<&Bytes>) -> usize {
    SLOT + block(message.source.capacity())
        + block(message.destination.capacity())
        + block(message.label.capacity())
        + message.topic.as_ref().map_or(0, |t| block(t.capacity()))
        + payload.map_or(0, |p| block(p.len()))
}

struct Cached {
    message: Message,
    payload: Option<Bytes>,
    pins: u32,
    stamp: u64,
    size: usize,
}

pub(crate) struct Cache {
    map: HashMap<u64, Cached>,
    order: VecDeque<(u64, u64)>,
    bytes: usize,
    limit: usize,
    clock: u64,
}

impl Cache {
    pub(crate) fn new(limit: usize) -> Cache {
        Cache {
            map: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            limit,
            clock: 0,
        }
    }

    /// The record of `seq`, marked as used.
    pub(crate) fn get(&mut self, seq: u64) -> Option<&Message> {
        self.touch(seq);
        self.map.get(&seq).map(|c| &c.message)
    }

    /// The record of `seq` as it is, without counting as a use.
    pub(crate) fn peek(&self, seq: u64) -> Option<&Message> {
        self.map.get(&seq).map(|c| &c.message)
    }

    pub(crate) fn payload(&mut self, seq: u64) -> Option<Bytes> {
        self.touch(seq);
        self.map.get(&seq).and_then(|c| c.payload.clone())
    }

    /// Stores a record, with its payload or (`None`) keeping the payload cached before, if any.
    /// `pin` marks a record written and not yet committed.
    pub(crate) fn put(&mut self, message: Message, payload: Option<Bytes>, pin: bool) {
        let seq = message.seq;
        let (pins, payload) = match self.map.remove(&seq) {
            Some(old) => {
                self.bytes -= old.size;
                (old.pins, payload.or(old.payload))
            }
            None => (0, payload),
        };
        let size = footprint(&message, payload.as_ref());
        self.clock += 1;
        self.map.insert(
            seq,
            Cached {
                message,
                payload,
                pins: pins + pin as u32,
                stamp: self.clock,
                size,
            },
        );
        self.order.push_back((seq, self.clock));
        self.bytes += size;
        self.evict();
    }

    /// The record of `seq` is committed: it may be evicted again.
    pub(crate) fn unpin(&mut self, seq: u64) {
        if let Some(c) = self.map.get_mut(&seq) {
            c.pins = c.pins.saturating_sub(1);
        }
        self.evict();
    }

    pub(crate) fn remove(&mut self, seq: u64) {
        if let Some(old) = self.map.remove(&seq) {
            self.bytes -= old.size;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
        self.bytes = 0;
    }

    /// Bytes held, by the same count the bound is checked against.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    fn touch(&mut self, seq: u64) {
        if let Some(c) = self.map.get_mut(&seq) {
            self.clock += 1;
            c.stamp = self.clock;
            self.order.push_back((seq, self.clock));
            self.compact();
        }
    }

    fn evict(&mut self) {
        // Each stamp is looked at once per call, so a cache full of pinned records costs one
        // pass, not a loop.
        let mut budget = self.order.len();
        while self.bytes > self.limit && budget > 0 {
            budget -= 1;
            let Some((seq, stamp)) = self.order.pop_front() else {
                break;
            };
            let Some(c) = self.map.get_mut(&seq) else {
                continue;
            };
            if c.stamp != stamp {
                continue;
            }
            if c.pins > 0 {
                self.clock += 1;
                c.stamp = self.clock;
                self.order.push_back((seq, self.clock));
                continue;
            }
            let size = c.size;
            self.map.remove(&seq);
            self.bytes -= size;
        }
        self.compact();
    }

    /// Drops superseded stamps once they outnumber the live ones, so a hot record read over and
    /// over does not grow the queue.
    fn compact(&mut self) {
        if self.order.len() > 2 * self.map.len() + 1024 {
            let map = &self.map;
            self.order
                .retain(|(seq, stamp)| map.get(seq).is_some_and(|c| c.stamp == *stamp));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relay_wire::queue::{ContentKind, MessageId, Status};

    fn message(seq: u64) -> Message {
        Message {
            id: MessageId([0; 12]),
            seq,
            source: "a".into(),
            destination: "b".into(),
            status: Status::Pending,
            tries: 0,
            topic: None,
            label: String::new(),
            kind: ContentKind::Text,
            created_time: 0,
            update_time: None,
            scheduled_time: None,
            processing_time: None,
            processed_time: None,
            error_time: None,
        }
    }

    #[test]
    fn the_bound_holds_and_the_least_recently_used_go_first() {
        let mut cache = Cache::new(10_000);
        for seq in 0..100 {
            cache.put(message(seq), Some(Bytes::from(vec![0u8; 100])), false);
            cache.get(0);
            assert!(cache.bytes() <= 10_000);
        }
        assert!(cache.peek(0).is_some(), "used all along");
        assert!(cache.peek(1).is_none());
        assert!(cache.peek(99).is_some());
        assert!(cache.len() > 10);
    }

    #[test]
    fn pinned_records_stay_until_unpinned() {
        let mut cache = Cache::new(1_000);
        cache.put(message(1), Some(Bytes::from(vec![0u8; 2_000])), true);
        cache.put(message(2), None, false);
        assert!(cache.peek(1).is_some(), "pinned, though over the bound");
        cache.unpin(1);
        assert!(cache.peek(1).is_none());
        assert!(cache.bytes() <= 1_000);
    }

    #[test]
    fn a_state_change_keeps_the_cached_payload() {
        let mut cache = Cache::new(1 << 20);
        cache.put(message(1), Some(Bytes::from_static(b"body")), true);
        let mut changed = message(1);
        changed.status = Status::Processing;
        cache.put(changed, None, true);
        assert_eq!(cache.payload(1).unwrap(), "body");
        assert_eq!(cache.peek(1).unwrap().status, Status::Processing);
    }
}
