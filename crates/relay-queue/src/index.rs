//! The in-memory view of every stored message: a small fixed-size entry per message with only
//! what decisions need (its id, status, source and destination, and the one time its status
//! waits on), and the secondary orders the operations walk. Everything else a message has
//! (label, topic, tries, the other times, the payload) stays in the store and is read through
//! the engine's cache when an answer needs it.
//!
//! Why these structures: the index must cost little per message however deep the queues get.
//! - Node names are interned once (`Nodes`), so an entry holds two `u32`s, not two `String`s.
//! - Entries live in chunks of `CHUNK` consecutive seqs, each a sorted `Vec` of 32-byte slots:
//!   seqs only grow, so a push appends, a lookup is a map step plus a binary search in one
//!   chunk, and there is no tree node per message. A removed slot is only marked dead, and its
//!   chunk is compacted once half of it is dead (or dropped once empty), so a removal is cheap
//!   and the space comes back.
//! - The id lookup is a hash table of bare seqs (8 bytes a slot) that compares against the id
//!   in the entry, rather than a map holding the id a second time.
//! - The maps use a fast hash (foldhash) rather than SipHash: rebuilding the index at start-up
//!   hashes every message's id and names, and that was a good share of the restart time.
//! - The per-node orders (waiting per destination, involved per node) and the time orders (in
//!   flight by pull time, processed by ack time) are sorted `VecDeque`s: they grow at the back
//!   (new seqs, current times) and shrink mostly at the front (oldest pulled, oldest purged),
//!   so both ends are O(1) and a removal in the middle is a binary search and a short move, at
//!   8 or 16 bytes a message instead of a B-tree node per message per order.

use std::collections::{BTreeMap, VecDeque};
use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use relay_wire::queue::{MessageId, Status};

use crate::message::IndexRecord;

/// A node name's number while any message involves it.
pub(crate) type NodeId = u32;

/// Seqs per chunk: small enough that compacting or inserting into one moves at most 32 KiB.
const CHUNK_BITS: u32 = 10;
const CHUNK: u64 = 1 << CHUNK_BITS;

/// Node names, each kept once, with how many entries name them so that a name nobody uses any
/// more is forgotten.
#[derive(Default)]
struct Nodes {
    by_name: HashMap<Box<str>, NodeId>,
    names: Vec<Box<str>>,
    refs: Vec<u32>,
    free: Vec<NodeId>,
}

impl Nodes {
    fn find(&self, name: &str) -> Option<NodeId> {
        self.by_name.get(name).copied()
    }

    fn acquire(&mut self, name: &str) -> NodeId {
        if let Some(&id) = self.by_name.get(name) {
            self.refs[id as usize] += 1;
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.names[id as usize] = name.into();
                self.refs[id as usize] = 1;
                id
            }
            None => {
                self.names.push(name.into());
                self.refs.push(1);
                (self.names.len() - 1) as NodeId
            }
        };
        self.by_name.insert(name.into(), id);
        id
    }

    fn release(&mut self, id: NodeId) {
        let refs = &mut self.refs[id as usize];
        *refs -= 1;
        if *refs == 0 {
            let name = std::mem::take(&mut self.names[id as usize]);
            self.by_name.remove(&name);
            self.free.push(id);
        }
    }

    fn name(&self, id: NodeId) -> &str {
        &self.names[id as usize]
    }

    fn bytes(&self) -> usize {
        self.names.iter().map(|n| 2 * n.len() + 48).sum::<usize>() + self.refs.capacity() * 4
    }
}

/// One message as a chunk keeps it. `packed(4)` keeps the time from padding the slot to 40.
#[derive(Clone, Copy)]
#[repr(C, packed(4))]
struct Slot {
    id: MessageId,
    source: NodeId,
    destination: NodeId,
    time: i64,
    offset: u16,
    status: Status,
    live: bool,
}

/// What the index knows of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) seq: u64,
    pub(crate) id: MessageId,
    pub(crate) source: NodeId,
    pub(crate) destination: NodeId,
    pub(crate) status: Status,
    /// When a scheduled message is due, a processing one was pulled, a processed one acked.
    time: i64,
}

impl Entry {
    fn is_due(&self, now: i64) -> bool {
        match self.status {
            Status::Pending => true,
            Status::Scheduled => self.time <= now,
            Status::Processing | Status::Processed => false,
        }
    }

    pub(crate) fn involves(&self, node: NodeId) -> bool {
        self.source == node || self.destination == node
    }
}

#[derive(Default)]
struct Chunk {
    slots: Vec<Slot>,
    live: u32,
}

/// Entries by seq.
#[derive(Default)]
struct Entries {
    chunks: BTreeMap<u64, Chunk>,
    len: usize,
}

impl Entries {
    fn locate(&self, seq: u64) -> Option<(&Chunk, usize)> {
        let chunk = self.chunks.get(&(seq >> CHUNK_BITS))?;
        let offset = (seq & (CHUNK - 1)) as u16;
        let at = chunk
            .slots
            .binary_search_by_key(&offset, |s| s.offset)
            .ok()?;
        chunk.slots[at].live.then_some((chunk, at))
    }

    fn get(&self, seq: u64) -> Option<Entry> {
        self.locate(seq)
            .map(|(chunk, at)| entry(seq >> CHUNK_BITS, &chunk.slots[at]))
    }

    /// Stores an entry for a seq that has none.
    fn insert(&mut self, e: &Entry) {
        let offset = (e.seq & (CHUNK - 1)) as u16;
        let slot = Slot {
            id: e.id,
            source: e.source,
            destination: e.destination,
            time: e.time,
            offset,
            status: e.status,
            live: true,
        };
        let chunk = self.chunks.entry(e.seq >> CHUNK_BITS).or_default();
        match chunk.slots.last() {
            Some(last) if last.offset >= offset => {
                match chunk.slots.binary_search_by_key(&offset, |s| s.offset) {
                    Ok(at) => chunk.slots[at] = slot,
                    Err(at) => chunk.slots.insert(at, slot),
                }
            }
            _ => chunk.slots.push(slot),
        }
        chunk.live += 1;
        self.len += 1;
    }

    fn remove(&mut self, seq: u64) -> Option<Entry> {
        let key = seq >> CHUNK_BITS;
        let chunk = self.chunks.get_mut(&key)?;
        let offset = (seq & (CHUNK - 1)) as u16;
        let at = chunk
            .slots
            .binary_search_by_key(&offset, |s| s.offset)
            .ok()?;
        if !chunk.slots[at].live {
            return None;
        }
        chunk.slots[at].live = false;
        let removed = entry(key, &chunk.slots[at]);
        chunk.live -= 1;
        self.len -= 1;
        if chunk.live == 0 {
            self.chunks.remove(&key);
        } else if (chunk.live as usize) * 2 < chunk.slots.len() {
            chunk.slots.retain(|s| s.live);
            if chunk.slots.capacity() > 2 * chunk.slots.len() {
                chunk.slots.shrink_to_fit();
            }
        }
        Some(removed)
    }

    fn last_seq(&self) -> Option<u64> {
        let (key, chunk) = self.chunks.last_key_value()?;
        let slot = chunk.slots.iter().rev().find(|s| s.live)?;
        Some((key << CHUNK_BITS) | slot.offset as u64)
    }

    fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        self.chunks.iter().flat_map(|(&key, chunk)| {
            chunk
                .slots
                .iter()
                .filter(|s| s.live)
                .map(move |s| entry(key, s))
        })
    }

    fn bytes(&self) -> usize {
        self.chunks
            .values()
            .map(|c| c.slots.capacity() * size_of::<Slot>() + 64)
            .sum()
    }
}

fn entry(key: u64, s: &Slot) -> Entry {
    Entry {
        seq: (key << CHUNK_BITS) | s.offset as u64,
        id: s.id,
        source: s.source,
        destination: s.destination,
        status: s.status,
        time: s.time,
    }
}

/// A sorted list that grows at the back and shrinks mostly at the front.
#[derive(Default)]
struct Sorted<T>(VecDeque<T>);

impl<T: Ord + Copy> Sorted<T> {
    fn insert(&mut self, v: T) {
        match self.0.back() {
            Some(last) if *last >= v => {
                if let Err(at) = self.0.binary_search(&v) {
                    self.0.insert(at, v);
                }
            }
            _ => self.0.push_back(v),
        }
    }

    fn remove(&mut self, v: &T) {
        let at = match self.0.front() {
            Some(first) if first == v => 0,
            _ => match self.0.binary_search(v) {
                Ok(at) => at,
                Err(_) => return,
            },
        };
        self.0.remove(at);
        // A list that has drained gives its memory back.
        if self.0.capacity() > 64 && self.0.len() * 4 < self.0.capacity() {
            self.0.shrink_to(self.0.len() * 2);
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn bytes(&self) -> usize {
        self.0.capacity() * size_of::<T>() + 32
    }
}

fn add_to(map: &mut HashMap<NodeId, Sorted<u64>>, node: NodeId, seq: u64) {
    map.entry(node).or_default().insert(seq);
}

fn remove_from(map: &mut HashMap<NodeId, Sorted<u64>>, node: NodeId, seq: u64) {
    if let Some(list) = map.get_mut(&node) {
        list.remove(&seq);
        if list.is_empty() {
            map.remove(&node);
        }
    }
}

#[derive(Default)]
pub(crate) struct Index {
    nodes: Nodes,
    entries: Entries,
    /// Seqs, found by the id in their entry.
    by_id: HashTable<u64>,
    /// Randomly seeded per process; ids are made here (a client names one only through the
    /// test hooks), so a fast hash is enough.
    hasher: DefaultHashBuilder,
    /// Per destination: messages waiting to be pulled (pending or scheduled), oldest first.
    inbox: HashMap<NodeId, Sorted<u64>>,
    /// Per node: every message it sent or receives, oldest first.
    involved: HashMap<NodeId, Sorted<u64>>,
    /// Messages being processed, by the time they were pulled.
    in_flight: Sorted<(i64, u64)>,
    /// Processed messages, by the time they were acked.
    processed: Sorted<(i64, u64)>,
    /// Per destination: how many messages are in each state, kept as messages come and go so
    /// that reading them costs nothing however deep the queues are.
    counts: HashMap<NodeId, Counts>,
}

/// How many messages one destination has in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Waiting to be pulled: pending, or scheduled for later.
    pub pending: u64,
    /// Pulled and not acked yet.
    pub processing: u64,
    /// Acked and not yet past the processed retention.
    pub processed: u64,
}

impl Counts {
    fn slot(&mut self, status: Status) -> &mut u64 {
        match status {
            Status::Pending | Status::Scheduled => &mut self.pending,
            Status::Processing => &mut self.processing,
            Status::Processed => &mut self.processed,
        }
    }
}

impl Index {
    pub(crate) fn len(&self) -> usize {
        self.entries.len
    }

    /// Makes room for `n` messages in the id table at once: growing it rehashes every entry,
    /// and each rehash looks the id up in its chunk.
    pub(crate) fn reserve(&mut self, n: usize) {
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.by_id.reserve(n, |&seq| {
            let id = entries.get(seq).map_or([0; 12], |e| e.id.0);
            hasher.hash_one(id)
        });
    }

    pub(crate) fn last_seq(&self) -> Option<u64> {
        self.entries.last_seq()
    }

    /// The number of a node that some message involves.
    pub(crate) fn node(&self, name: &str) -> Option<NodeId> {
        self.nodes.find(name)
    }

    fn hash(&self, id: &MessageId) -> u64 {
        self.hasher.hash_one(id.0)
    }

    pub(crate) fn get(&self, id: &MessageId) -> Option<Entry> {
        let entries = &self.entries;
        let seq = *self.by_id.find(self.hash(id), |&seq| {
            entries.get(seq).is_some_and(|e| e.id == *id)
        })?;
        self.entries.get(seq)
    }

    pub(crate) fn get_seq(&self, seq: u64) -> Option<Entry> {
        self.entries.get(seq)
    }

    /// Inserts a message or replaces the one with the same `seq`.
    pub(crate) fn put(&mut self, rec: &IndexRecord<'_>) {
        // The names are taken before the old entry lets go of them, so that a name the message
        // keeps is never forgotten and interned again.
        let source = self.nodes.acquire(rec.source);
        let destination = self.nodes.acquire(rec.destination);
        self.remove(rec.seq);
        let time = match rec.status {
            Status::Pending => 0,
            Status::Scheduled => rec.scheduled_time.unwrap_or(i64::MAX),
            Status::Processing => rec.processing_time.unwrap_or(rec.created_time),
            Status::Processed => rec.processed_time.unwrap_or(rec.created_time),
        };
        let e = Entry {
            seq: rec.seq,
            id: rec.id,
            source,
            destination,
            status: rec.status,
            time,
        };
        self.entries.insert(&e);
        let hash = self.hash(&e.id);
        self.by_id.insert_unique(hash, e.seq, |&seq| {
            let id = self
                .entries
                .get(seq)
                .map(|e| e.id)
                .unwrap_or(MessageId([0; 12]));
            self.hasher.hash_one(id.0)
        });
        add_to(&mut self.involved, source, e.seq);
        add_to(&mut self.involved, destination, e.seq);
        match e.status {
            Status::Pending | Status::Scheduled => add_to(&mut self.inbox, destination, e.seq),
            Status::Processing => self.in_flight.insert((time, e.seq)),
            Status::Processed => self.processed.insert((time, e.seq)),
        }
        *self.counts.entry(destination).or_default().slot(e.status) += 1;
    }

    pub(crate) fn remove(&mut self, seq: u64) -> Option<Entry> {
        let e = self.entries.get(seq)?;
        let hash = self.hash(&e.id);
        if let Ok(found) = self.by_id.find_entry(hash, |&s| s == seq) {
            found.remove();
        }
        self.entries.remove(seq);
        for node in [e.source, e.destination] {
            remove_from(&mut self.involved, node, seq);
        }
        match e.status {
            Status::Pending | Status::Scheduled => remove_from(&mut self.inbox, e.destination, seq),
            Status::Processing => self.in_flight.remove(&(e.time, seq)),
            Status::Processed => self.processed.remove(&(e.time, seq)),
        }
        if let Some(c) = self.counts.get_mut(&e.destination) {
            *c.slot(e.status) -= 1;
            if *c == Counts::default() {
                self.counts.remove(&e.destination);
            }
        }
        self.nodes.release(e.source);
        self.nodes.release(e.destination);
        Some(e)
    }

    /// The oldest message `node` may pull now.
    pub(crate) fn next_due(&self, node: NodeId, now: i64) -> Option<Entry> {
        self.inbox
            .get(&node)?
            .0
            .iter()
            .filter_map(|&seq| self.entries.get(seq))
            .find(|e| e.is_due(now))
    }

    /// Messages `node` sent or receives, oldest first.
    pub(crate) fn involving(&self, node: NodeId) -> impl Iterator<Item = Entry> + '_ {
        self.involved
            .get(&node)
            .into_iter()
            .flat_map(|list| list.0.iter())
            .filter_map(|&seq| self.entries.get(seq))
    }

    /// Messages pulled at or before `cutoff`.
    pub(crate) fn in_flight_since(&self, cutoff: i64) -> Vec<u64> {
        let list = &self.in_flight.0;
        let end = list.partition_point(|&(t, _)| t <= cutoff);
        list.range(..end).map(|&(_, seq)| seq).collect()
    }

    /// Messages acked at or before `cutoff`.
    pub(crate) fn processed_since(&self, cutoff: i64) -> Vec<u64> {
        let list = &self.processed.0;
        let end = list.partition_point(|&(t, _)| t <= cutoff);
        list.range(..end).map(|&(_, seq)| seq).collect()
    }

    /// Every destination with messages, and how many it has in each state.
    pub(crate) fn counts(&self) -> impl Iterator<Item = (&str, Counts)> {
        self.counts.iter().map(|(&d, c)| (self.nodes.name(d), *c))
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = Entry> + '_ {
        self.entries.iter()
    }

    pub(crate) fn clear(&mut self) -> usize {
        let n = self.len();
        *self = Index::default();
        n
    }

    /// What the index holds on the heap, give or take the allocator's rounding: what a message
    /// costs in memory while it is stored.
    pub(crate) fn heap_bytes(&self) -> usize {
        let lists = |m: &HashMap<NodeId, Sorted<u64>>| -> usize {
            m.values().map(Sorted::bytes).sum::<usize>() + m.capacity() * 40
        };
        self.nodes.bytes()
            + self.entries.bytes()
            + self.by_id.capacity() * 9
            + lists(&self.inbox)
            + lists(&self.involved)
            + self.in_flight.bytes()
            + self.processed.bytes()
            + self.counts.capacity() * 40
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec<'a>(seq: u64, source: &'a str, destination: &'a str, status: Status) -> IndexRecord<'a> {
        let mut id = [0u8; 12];
        id[4..].copy_from_slice(&seq.to_be_bytes());
        IndexRecord {
            seq,
            id: MessageId(id),
            source,
            destination,
            status,
            created_time: seq as i64,
            scheduled_time: None,
            processing_time: Some(seq as i64),
            processed_time: Some(seq as i64),
        }
    }

    #[test]
    fn a_slot_is_32_bytes() {
        assert_eq!(size_of::<Slot>(), 32);
    }

    #[test]
    fn entries_are_found_by_seq_and_id_across_chunks_and_removals() {
        let mut index = Index::default();
        let n = 5 * CHUNK + 7;
        for seq in 1..=n {
            index.put(&rec(seq, "a", &format!("d{}", seq % 3), Status::Pending));
        }
        assert_eq!(index.len(), n as usize);
        for seq in (1..=n).filter(|s| s % 3 != 0) {
            assert!(index.remove(seq).is_some());
        }
        assert_eq!(index.len(), (n / 3) as usize);
        for seq in 1..=n {
            let r = rec(seq, "a", "x", Status::Pending);
            let found = index.get(&r.id);
            assert_eq!(found.is_some(), seq % 3 == 0, "seq {seq}");
            assert_eq!(index.get_seq(seq).map(|e| e.seq), found.map(|e| e.seq));
        }
        assert_eq!(index.last_seq(), Some(n - n % 3));
        let a = index.node("a").unwrap();
        let listed: Vec<u64> = index.involving(a).map(|e| e.seq).collect();
        let want: Vec<u64> = (1..=n).filter(|s| s % 3 == 0).collect();
        assert_eq!(listed, want);
        assert!(
            index.node("d1").is_none(),
            "a name nobody uses is forgotten"
        );
        let d0 = index.node("d0").unwrap();
        assert_eq!(index.next_due(d0, 0).map(|e| e.seq), Some(3));
    }

    #[test]
    fn time_orders_follow_status_changes() {
        let mut index = Index::default();
        index.put(&rec(1, "a", "b", Status::Pending));
        index.put(&rec(2, "a", "b", Status::Processing));
        index.put(&rec(3, "a", "b", Status::Processed));
        assert_eq!(index.in_flight_since(10), vec![2]);
        assert_eq!(index.processed_since(10), vec![3]);
        index.put(&rec(2, "a", "b", Status::Processed));
        assert!(index.in_flight_since(10).is_empty());
        assert_eq!(index.processed_since(10), vec![2, 3]);
        let b = index.node("b").unwrap();
        assert_eq!(
            index.counts.get(&b).copied(),
            Some(Counts {
                pending: 1,
                processing: 0,
                processed: 2
            })
        );
    }
}
