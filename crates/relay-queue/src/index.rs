//! The in-memory view of every stored message: a small fixed-size entry per message with only
//! what decisions need (its id, status, source and destination, and the one time its status
//! waits on), and the secondary orders the operations walk. Everything else a message has
//! (label, topic, tries, the other times, the payload) stays in the store and is read through
//! the engine's cache when an answer needs it.
//!
//! Why these structures: the index must cost little per message however deep the queues get
//! (a pending message costs about 32 bytes in all; `heap_bytes` counts it).
//! - Node names are interned once (`Nodes`), so an entry holds two `u32`s, not two `String`s.
//! - Entries live in chunks of `CHUNK` consecutive seqs, each a sorted `Vec` of 26-byte slots:
//!   seqs only grow, so a push appends, a lookup is a map step plus a binary search in one
//!   chunk, and there is no tree node per message. A removed slot is only marked dead, and its
//!   chunk is compacted once half of it is dead (or dropped once empty), so a removal is cheap
//!   and the space comes back.
//! - There is no id table: an id is rebuilt from the seq, the 4 seconds bytes kept in the slot
//!   and the slot's epoch, and an id is found from its own parts (`epochs.rs`).
//! - The maps use a fast hash (foldhash) rather than SipHash: rebuilding the index at start-up
//!   hashes every message's names, and that was a good share of the restart time.
//! - The per-node orders (waiting per destination, involved per node) are `SeqList`s, about 2
//!   bytes a seq with no per-seq or per-chunk allocation (`seq_list.rs`). The time orders (in
//!   flight by pull time, processed by ack time) are sorted `VecDeque`s of (time, seq): they
//!   grow at the back and shrink mostly at the front, so both ends are O(1) and a removal in
//!   the middle is a binary search and a short move.

mod epochs;
mod seq_list;

use std::collections::{BTreeMap, VecDeque};

use hashbrown::HashMap;
use relay_wire::queue::{MessageId, Status};

use crate::message::IndexRecord;
use epochs::{EpochId, Epochs};
use seq_list::SeqList;

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

/// One message as a chunk keeps it: 26 bytes. `packed(2)` keeps the time from padding it to 32.
#[derive(Clone, Copy)]
#[repr(C, packed(2))]
struct Slot {
    time: i64,
    /// The seconds part of the id; the rest comes from the epoch and the seq.
    secs: u32,
    source: NodeId,
    destination: NodeId,
    offset: u16,
    epoch: EpochId,
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

/// Slots by seq.
#[derive(Default)]
struct Entries {
    chunks: BTreeMap<u64, Chunk>,
    len: usize,
}

impl Entries {
    fn get(&self, seq: u64) -> Option<&Slot> {
        let chunk = self.chunks.get(&(seq >> CHUNK_BITS))?;
        let offset = (seq & (CHUNK - 1)) as u16;
        let at = chunk
            .slots
            .binary_search_by_key(&offset, |s| s.offset)
            .ok()?;
        let slot = &chunk.slots[at];
        slot.live.then_some(slot)
    }

    /// Stores the slot of a seq that has none.
    fn insert(&mut self, seq: u64, slot: Slot) {
        let offset = slot.offset;
        let chunk = self.chunks.entry(seq >> CHUNK_BITS).or_default();
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

    fn remove(&mut self, seq: u64) {
        let key = seq >> CHUNK_BITS;
        let Some(chunk) = self.chunks.get_mut(&key) else {
            return;
        };
        let offset = (seq & (CHUNK - 1)) as u16;
        let Ok(at) = chunk.slots.binary_search_by_key(&offset, |s| s.offset) else {
            return;
        };
        if !chunk.slots[at].live {
            return;
        }
        chunk.slots[at].live = false;
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
    }

    fn last_seq(&self) -> Option<u64> {
        let (key, chunk) = self.chunks.last_key_value()?;
        let slot = chunk.slots.iter().rev().find(|s| s.live)?;
        Some((key << CHUNK_BITS) | slot.offset as u64)
    }

    fn iter(&self) -> impl Iterator<Item = (u64, &Slot)> + '_ {
        self.chunks.iter().flat_map(|(&key, chunk)| {
            chunk
                .slots
                .iter()
                .filter(|s| s.live)
                .map(move |s| ((key << CHUNK_BITS) | s.offset as u64, s))
        })
    }

    fn bytes(&self) -> usize {
        self.chunks
            .values()
            .map(|c| c.slots.capacity() * size_of::<Slot>() + 64)
            .sum()
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

    fn bytes(&self) -> usize {
        self.0.capacity() * size_of::<T>() + 32
    }
}

fn add_to(map: &mut HashMap<NodeId, SeqList>, node: NodeId, seq: u64) {
    map.entry(node).or_default().insert(seq);
}

fn remove_from(map: &mut HashMap<NodeId, SeqList>, node: NodeId, seq: u64) {
    if let Some(list) = map.get_mut(&node) {
        list.remove(seq);
        if list.is_empty() {
            map.remove(&node);
        }
    }
}

#[derive(Default)]
pub(crate) struct Index {
    nodes: Nodes,
    entries: Entries,
    /// What turns a seq back into its id and an id into its seq.
    epochs: Epochs,
    /// Per destination: messages waiting to be pulled (pending or scheduled), oldest first.
    inbox: HashMap<NodeId, SeqList>,
    /// Per node: every message it sent or receives, oldest first.
    involved: HashMap<NodeId, SeqList>,
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

    fn entry(&self, seq: u64, s: &Slot) -> Entry {
        Entry {
            seq,
            id: self.epochs.id(seq, s.secs, s.epoch),
            source: s.source,
            destination: s.destination,
            status: s.status,
            time: s.time,
        }
    }

    pub(crate) fn last_seq(&self) -> Option<u64> {
        self.entries.last_seq()
    }

    /// The number of a node that some message involves.
    pub(crate) fn node(&self, name: &str) -> Option<NodeId> {
        self.nodes.find(name)
    }

    pub(crate) fn get(&self, id: &MessageId) -> Option<Entry> {
        let secs = epochs::secs(id);
        self.epochs.candidates(id).find_map(|(seq, epoch)| {
            let s = self.entries.get(seq)?;
            (s.epoch == epoch && s.secs == secs && self.epochs.id(seq, s.secs, s.epoch) == *id)
                .then(|| self.entry(seq, s))
        })
    }

    pub(crate) fn get_seq(&self, seq: u64) -> Option<Entry> {
        self.entries.get(seq).map(|s| self.entry(seq, s))
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
        let seq = rec.seq;
        let epoch = self.epochs.assign(seq, &rec.id);
        let slot = Slot {
            time,
            secs: epochs::secs(&rec.id),
            source,
            destination,
            offset: (seq & (CHUNK - 1)) as u16,
            epoch,
            status: rec.status,
            live: true,
        };
        self.entries.insert(seq, slot);
        add_to(&mut self.involved, source, seq);
        add_to(&mut self.involved, destination, seq);
        match rec.status {
            Status::Pending | Status::Scheduled => add_to(&mut self.inbox, destination, seq),
            Status::Processing => self.in_flight.insert((time, seq)),
            Status::Processed => self.processed.insert((time, seq)),
        }
        *self.counts.entry(destination).or_default().slot(rec.status) += 1;
    }

    pub(crate) fn remove(&mut self, seq: u64) -> Option<Entry> {
        let s = *self.entries.get(seq)?;
        let e = self.entry(seq, &s);
        self.epochs.release(seq, s.epoch);
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
            .iter()
            .filter_map(|seq| self.get_seq(seq))
            .find(|e| e.is_due(now))
    }

    /// Messages `node` sent or receives, oldest first.
    pub(crate) fn involving(&self, node: NodeId) -> impl Iterator<Item = Entry> + '_ {
        self.involved
            .get(&node)
            .into_iter()
            .flat_map(|list| list.iter())
            .filter_map(|seq| self.get_seq(seq))
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
        self.entries.iter().map(|(seq, s)| self.entry(seq, s))
    }

    pub(crate) fn clear(&mut self) -> usize {
        let n = self.len();
        *self = Index::default();
        n
    }

    /// What the index holds on the heap, give or take the allocator's rounding: what a message
    /// costs in memory while it is stored.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.heap_parts().iter().map(|&(_, b)| b).sum()
    }

    /// `heap_bytes` by structure, for the start-up log line: where the bytes go.
    pub(crate) fn heap_parts(&self) -> [(&'static str, usize); 6] {
        let lists = |m: &HashMap<NodeId, SeqList>| -> usize {
            m.values().map(SeqList::bytes).sum::<usize>() + m.capacity() * 40
        };
        [
            ("entries", self.entries.bytes()),
            ("ids", self.epochs.bytes()),
            ("inbox", lists(&self.inbox)),
            ("involved", lists(&self.involved)),
            (
                "times",
                self.in_flight.bytes() + self.processed.bytes() + self.counts.capacity() * 40,
            ),
            ("nodes", self.nodes.bytes()),
        ]
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
    fn a_slot_is_26_bytes() {
        assert_eq!(size_of::<Slot>(), 26);
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
