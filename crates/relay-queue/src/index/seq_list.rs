//! A sorted set of seqs at about two bytes a seq: the low 16 bits of each seq in one flat
//! deque, and a run header per distinct high part. Seqs only grow, so a list grows at the back
//! and, as the oldest messages are pulled or purged, shrinks at the front, both O(1); there is
//! no per-seq heap node and no per-chunk allocation, so a sparse list (one seq in every 65,536)
//! costs no more than a dense one per header.

use std::collections::VecDeque;

const LOW_BITS: u32 = 16;

/// `len` consecutive entries of `low` share the high part `high`.
#[derive(Clone, Copy)]
struct Run {
    high: u64,
    len: u32,
}

#[derive(Default)]
pub(super) struct SeqList {
    runs: VecDeque<Run>,
    low: VecDeque<u16>,
}

fn split(seq: u64) -> (u64, u16) {
    (seq >> LOW_BITS, seq as u16)
}

/// Where `v` is or would go among `low[start..end]`, which is sorted.
fn search(low: &VecDeque<u16>, start: usize, end: usize, v: u16) -> Result<usize, usize> {
    let (mut lo, mut hi) = (start, end);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match low[mid].cmp(&v) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Ok(mid),
        }
    }
    Err(lo)
}

impl SeqList {
    /// The run for `high` (or where it would go) and where its entries start in `low`. Runs are
    /// few (one per 65,536 seqs the list spans), so the start is summed rather than kept.
    fn run(&self, high: u64) -> (Result<usize, usize>, usize) {
        let found = self.runs.binary_search_by_key(&high, |r| r.high);
        let i = match found {
            Ok(i) | Err(i) => i,
        };
        let start = self.runs.range(..i).map(|r| r.len as usize).sum();
        (found, start)
    }

    pub(super) fn insert(&mut self, seq: u64) {
        let (high, low) = split(seq);
        match self.runs.back_mut() {
            Some(last) if last.high == high && self.low.back().is_some_and(|&l| l < low) => {
                last.len += 1;
                self.low.push_back(low);
                return;
            }
            Some(last) if last.high < high => {
                self.runs.push_back(Run { high, len: 1 });
                self.low.push_back(low);
                return;
            }
            None => {
                self.runs.push_back(Run { high, len: 1 });
                self.low.push_back(low);
                return;
            }
            _ => {}
        }
        match self.run(high) {
            (Ok(i), start) => {
                let end = start + self.runs[i].len as usize;
                if let Err(at) = search(&self.low, start, end, low) {
                    self.low.insert(at, low);
                    self.runs[i].len += 1;
                }
            }
            (Err(i), start) => {
                self.runs.insert(i, Run { high, len: 1 });
                self.low.insert(start, low);
            }
        }
    }

    pub(super) fn remove(&mut self, seq: u64) {
        let (high, low) = split(seq);
        let (i, at) = match (self.runs.front(), self.low.front()) {
            (Some(r), Some(&l)) if r.high == high && l == low => (0, 0),
            _ => {
                let (Ok(i), start) = self.run(high) else {
                    return;
                };
                let end = start + self.runs[i].len as usize;
                match search(&self.low, start, end, low) {
                    Ok(at) => (i, at),
                    Err(_) => return,
                }
            }
        };
        self.low.remove(at);
        self.runs[i].len -= 1;
        if self.runs[i].len == 0 {
            self.runs.remove(i);
        }
        // A list that has drained gives its memory back.
        if self.low.capacity() > 64 && self.low.len() * 4 < self.low.capacity() {
            self.low.shrink_to(self.low.len() * 2);
        }
        if self.runs.capacity() > 16 && self.runs.len() * 4 < self.runs.capacity() {
            self.runs.shrink_to(self.runs.len() * 2);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.low.is_empty()
    }

    /// Oldest first.
    pub(super) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let mut start = 0;
        self.runs.iter().flat_map(move |r| {
            let from = start;
            start += r.len as usize;
            self.low
                .range(from..start)
                .map(move |&l| (r.high << LOW_BITS) | l as u64)
        })
    }

    pub(super) fn bytes(&self) -> usize {
        self.low.capacity() * 2 + self.runs.capacity() * size_of::<Run>() + 48
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn it_stays_the_sorted_set_a_btreeset_is() {
        let mut list = SeqList::default();
        let mut model = BTreeSet::new();
        // A small xorshift: seqs across many runs, in and out of order, with repeats.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut tail = 1u64;
        for round in 0..20_000 {
            let r = next();
            let seq = match r % 4 {
                // Mostly growing at the back, as new messages do...
                0 | 1 => {
                    tail += 1 + r % 40_000;
                    tail
                }
                // ...with some put back in the middle, as a requeue does.
                _ => r % (tail + 1),
            };
            if r % 3 == 0 && !model.is_empty() {
                let oldest = *model.iter().next().unwrap();
                let victim = if r % 2 == 0 { oldest } else { seq };
                list.remove(victim);
                model.remove(&victim);
            } else {
                list.insert(seq);
                model.insert(seq);
            }
            if round % 997 == 0 {
                assert_eq!(
                    list.iter().collect::<Vec<_>>(),
                    model.iter().copied().collect::<Vec<_>>()
                );
            }
        }
        assert_eq!(
            list.iter().collect::<Vec<_>>(),
            model.iter().copied().collect::<Vec<_>>()
        );
        for seq in model.iter().copied().collect::<Vec<_>>() {
            list.remove(seq);
        }
        assert!(list.is_empty());
        assert_eq!(list.iter().count(), 0);
    }

    #[test]
    fn a_dense_list_costs_about_two_bytes_a_seq() {
        let mut list = SeqList::default();
        for seq in 1..=1_000_000u64 {
            list.insert(seq * 3);
        }
        assert!(list.bytes() <= 1_000_000 * 3, "{} bytes", list.bytes());
    }
}
