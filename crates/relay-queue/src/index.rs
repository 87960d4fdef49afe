//! The in-memory view of every stored message, with the secondary orders the operations need.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use relay_wire::queue::{MessageId, Status};

use crate::message::Message;

#[derive(Default)]
pub(crate) struct Index {
    by_seq: BTreeMap<u64, Message>,
    by_id: HashMap<MessageId, u64>,
    /// Per destination: messages waiting to be pulled (pending or scheduled), oldest first.
    inbox: HashMap<String, BTreeSet<u64>>,
    /// Per node: every message it sent or receives, oldest first.
    involved: HashMap<String, BTreeSet<u64>>,
    /// Messages being processed, by the time they were pulled.
    in_flight: BTreeSet<(i64, u64)>,
    /// Processed messages, by the time they were acked.
    processed: BTreeSet<(i64, u64)>,
    /// Per destination: how many messages are in each state, kept as messages come and go so
    /// that reading them costs nothing however deep the queues are.
    counts: HashMap<String, Counts>,
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
        self.by_seq.len()
    }

    pub(crate) fn last_seq(&self) -> Option<u64> {
        self.by_seq.keys().next_back().copied()
    }

    pub(crate) fn get(&self, id: &MessageId) -> Option<&Message> {
        self.by_id.get(id).and_then(|seq| self.by_seq.get(seq))
    }

    /// Inserts a message or replaces the one with the same `seq`.
    pub(crate) fn put(&mut self, msg: Message) {
        self.remove(msg.seq);
        self.by_id.insert(msg.id, msg.seq);
        add_to(&mut self.involved, &msg.source, msg.seq);
        add_to(&mut self.involved, &msg.destination, msg.seq);
        match msg.status {
            Status::Pending | Status::Scheduled => {
                add_to(&mut self.inbox, &msg.destination, msg.seq)
            }
            Status::Processing => {
                self.in_flight
                    .insert((msg.processing_time.unwrap_or(msg.created_time), msg.seq));
            }
            Status::Processed => {
                self.processed
                    .insert((msg.processed_time.unwrap_or(msg.created_time), msg.seq));
            }
        }
        match self.counts.get_mut(&msg.destination) {
            Some(c) => *c.slot(msg.status) += 1,
            None => {
                let mut c = Counts::default();
                *c.slot(msg.status) += 1;
                self.counts.insert(msg.destination.clone(), c);
            }
        }
        self.by_seq.insert(msg.seq, msg);
    }

    pub(crate) fn remove(&mut self, seq: u64) -> Option<Message> {
        let msg = self.by_seq.remove(&seq)?;
        self.by_id.remove(&msg.id);
        for node in [&msg.source, &msg.destination] {
            remove_from(&mut self.involved, node, seq);
        }
        remove_from(&mut self.inbox, &msg.destination, seq);
        self.in_flight
            .remove(&(msg.processing_time.unwrap_or(msg.created_time), seq));
        self.processed
            .remove(&(msg.processed_time.unwrap_or(msg.created_time), seq));
        if let Some(c) = self.counts.get_mut(&msg.destination) {
            *c.slot(msg.status) -= 1;
            if *c == Counts::default() {
                self.counts.remove(&msg.destination);
            }
        }
        Some(msg)
    }

    /// The oldest message `node` may pull now.
    pub(crate) fn next_due(&self, node: &str, now: i64) -> Option<&Message> {
        self.inbox
            .get(node)?
            .iter()
            .map(|seq| &self.by_seq[seq])
            .find(|m| m.is_due(now))
    }

    /// Messages `node` sent or receives, oldest first.
    pub(crate) fn involving<'a>(&'a self, node: &str) -> impl Iterator<Item = &'a Message> + 'a {
        self.involved
            .get(node)
            .into_iter()
            .flatten()
            .map(|seq| &self.by_seq[seq])
    }

    /// Messages pulled at or before `cutoff`.
    pub(crate) fn in_flight_since(&self, cutoff: i64) -> Vec<u64> {
        self.in_flight
            .range(..=(cutoff, u64::MAX))
            .map(|&(_, seq)| seq)
            .collect()
    }

    /// Messages acked at or before `cutoff`.
    pub(crate) fn processed_since(&self, cutoff: i64) -> Vec<u64> {
        self.processed
            .range(..=(cutoff, u64::MAX))
            .map(|&(_, seq)| seq)
            .collect()
    }

    /// Every destination with messages, and how many it has in each state.
    pub(crate) fn counts(&self) -> impl Iterator<Item = (&str, Counts)> {
        self.counts.iter().map(|(d, c)| (d.as_str(), *c))
    }

    pub(crate) fn get_seq(&self, seq: u64) -> Option<&Message> {
        self.by_seq.get(&seq)
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &Message> {
        self.by_seq.values()
    }

    pub(crate) fn clear(&mut self) -> usize {
        let n = self.by_seq.len();
        *self = Index::default();
        n
    }
}

/// Adds without allocating a key when the node already has a set (the common case).
fn add_to(map: &mut HashMap<String, BTreeSet<u64>>, key: &str, seq: u64) {
    match map.get_mut(key) {
        Some(set) => {
            set.insert(seq);
        }
        None => {
            map.insert(key.to_string(), BTreeSet::from([seq]));
        }
    }
}

fn remove_from(map: &mut HashMap<String, BTreeSet<u64>>, key: &str, seq: u64) {
    if let Some(set) = map.get_mut(key) {
        set.remove(&seq);
        if set.is_empty() {
            map.remove(key);
        }
    }
}
