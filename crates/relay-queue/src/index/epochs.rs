//! Message ids without an id table. An id is ObjectId-shaped: 4 bytes of seconds, 5 bytes
//! naming the process that made it, and a 3-byte counter, and the engine makes the counter
//! advance with the seq (`IdGenerator::for_seq`). So within one process's run, `counter - seq`
//! (mod 2^24) is one constant, and the id of every message of that run is its seconds (kept in
//! the entry, 4 bytes), the run's process bytes and that constant (kept once here, in an
//! epoch), and its seq. An id is found again from those: its process bytes name the epochs to
//! try, and the counter leaves one seq in every 2^24 of the epoch's span to look at.
//!
//! Stores written by older builds, whose counters started anywhere, still fall into one epoch
//! per run, since their counter and seq moved together too. An id that fits no epoch (one a
//! client named through the test hooks) is kept whole in a small table of odd ids.

use hashbrown::HashMap;
use relay_wire::queue::MessageId;

/// The epoch number an entry carries; `ODD` says its id is in the odd-id table.
pub(super) type EpochId = u16;
pub(super) const ODD: EpochId = EpochId::MAX;

/// Epochs kept per process bytes before further ids of that process count as odd: each one is
/// a place a lookup has to try.
const PER_PROCESS: usize = 8;

const COUNTER: u64 = 1 << 24;

struct Epoch {
    process: [u8; 5],
    /// `counter - seq`, mod 2^24.
    delta: u32,
    /// The lowest and highest seq it has held; lookups try only seqs in between.
    low: u64,
    high: u64,
    count: u64,
}

fn parts(id: &MessageId) -> ([u8; 5], u32, u32) {
    let b = id.0;
    let secs = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let process = [b[4], b[5], b[6], b[7], b[8]];
    let counter = u32::from_be_bytes([0, b[9], b[10], b[11]]);
    (process, counter, secs)
}

/// The seconds part of an id, which an entry keeps.
pub(super) fn secs(id: &MessageId) -> u32 {
    parts(id).2
}

#[derive(Default)]
pub(super) struct Epochs {
    epochs: Vec<Option<Epoch>>,
    free: Vec<EpochId>,
    by_process: HashMap<[u8; 5], Vec<EpochId>>,
    odd: HashMap<MessageId, u64>,
    odd_by_seq: HashMap<u64, MessageId>,
}

impl Epochs {
    /// Takes note of a message's id; the answer goes in its entry.
    pub(super) fn assign(&mut self, seq: u64, id: &MessageId) -> EpochId {
        let (process, counter, _) = parts(id);
        let delta = counter.wrapping_sub(seq as u32) & (COUNTER as u32 - 1);
        let known = self.by_process.get(&process).map_or(&[][..], |v| &v[..]);
        for &e in known {
            let epoch = self.epochs[e as usize]
                .as_mut()
                .expect("listed epochs exist");
            if epoch.delta == delta {
                epoch.low = epoch.low.min(seq);
                epoch.high = epoch.high.max(seq);
                epoch.count += 1;
                return e;
            }
        }
        let room = known.len() < PER_PROCESS;
        let number = match self.free.pop() {
            Some(e) if room => Some(e),
            Some(e) => {
                self.free.push(e);
                None
            }
            None if room && self.epochs.len() < ODD as usize => {
                self.epochs.push(None);
                Some((self.epochs.len() - 1) as EpochId)
            }
            None => None,
        };
        let Some(e) = number else {
            self.odd.insert(*id, seq);
            self.odd_by_seq.insert(seq, *id);
            return ODD;
        };
        self.epochs[e as usize] = Some(Epoch {
            process,
            delta,
            low: seq,
            high: seq,
            count: 1,
        });
        self.by_process.entry(process).or_default().push(e);
        e
    }

    /// Forgets a message's id.
    pub(super) fn release(&mut self, seq: u64, epoch: EpochId) {
        if epoch == ODD {
            if let Some(id) = self.odd_by_seq.remove(&seq) {
                self.odd.remove(&id);
            }
            return;
        }
        let slot = &mut self.epochs[epoch as usize];
        let e = slot.as_mut().expect("an entry's epoch exists");
        e.count -= 1;
        if e.count == 0 {
            let process = e.process;
            *slot = None;
            self.free.push(epoch);
            if let Some(list) = self.by_process.get_mut(&process) {
                list.retain(|&x| x != epoch);
                if list.is_empty() {
                    self.by_process.remove(&process);
                }
            }
        }
    }

    /// The id of the message at `seq`, from what its entry keeps.
    pub(super) fn id(&self, seq: u64, secs: u32, epoch: EpochId) -> MessageId {
        if epoch == ODD {
            return self
                .odd_by_seq
                .get(&seq)
                .copied()
                .unwrap_or(MessageId([0; 12]));
        }
        let e = self.epochs[epoch as usize]
            .as_ref()
            .expect("an entry's epoch exists");
        let counter = (seq as u32).wrapping_add(e.delta) & (COUNTER as u32 - 1);
        let mut id = [0u8; 12];
        id[..4].copy_from_slice(&secs.to_be_bytes());
        id[4..9].copy_from_slice(&e.process);
        id[9..].copy_from_slice(&counter.to_be_bytes()[1..]);
        MessageId(id)
    }

    /// The seqs that may hold `id`, with the epoch an entry there must carry to be it; the
    /// caller checks each against its entry.
    pub(super) fn candidates(&self, id: &MessageId) -> impl Iterator<Item = (u64, EpochId)> + '_ {
        let (process, counter, _) = parts(id);
        let odd = self.odd.get(id).map(|&seq| (seq, ODD));
        let epochs = self
            .by_process
            .get(&process)
            .into_iter()
            .flatten()
            .flat_map(move |&e| {
                let epoch = self.epochs[e as usize]
                    .as_ref()
                    .expect("listed epochs exist");
                let low24 = (counter.wrapping_sub(epoch.delta) & (COUNTER as u32 - 1)) as u64;
                let mut seq = (epoch.low & !(COUNTER - 1)) | low24;
                if seq < epoch.low {
                    seq += COUNTER;
                }
                let high = epoch.high;
                std::iter::successors(Some(seq), |s| s.checked_add(COUNTER))
                    .take_while(move |&s| s <= high)
                    .map(move |s| (s, e))
            });
        odd.into_iter().chain(epochs)
    }

    pub(super) fn bytes(&self) -> usize {
        self.epochs.capacity() * size_of::<Option<Epoch>>()
            + self.by_process.capacity() * 48
            + (self.odd.capacity() + self.odd_by_seq.capacity()) * 21
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(secs: u32, process: [u8; 5], counter: u32) -> MessageId {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&secs.to_be_bytes());
        b[4..9].copy_from_slice(&process);
        b[9..].copy_from_slice(&counter.to_be_bytes()[1..]);
        MessageId(b)
    }

    fn find(epochs: &Epochs, entries: &[(u64, u32, EpochId)], want: &MessageId) -> Option<u64> {
        epochs.candidates(want).find_map(|(seq, e)| {
            entries
                .iter()
                .find(|&&(s, secs, ep)| s == seq && ep == e && epochs.id(s, secs, ep) == *want)
                .map(|&(s, ..)| s)
        })
    }

    #[test]
    fn a_run_of_ids_shares_one_epoch_across_counter_wraps_and_spans() {
        let mut epochs = Epochs::default();
        let p = [1, 2, 3, 4, 5];
        let start = (COUNTER - 3) as u32;
        let mut entries = Vec::new();
        // Seqs far apart, so the epoch spans many counter wraps.
        for k in [0u64, 1, 2, 3, 4, COUNTER + 7, 5 * COUNTER + 1] {
            let seq = 100 + k;
            let counter = (start as u64 + k) as u32 & 0xff_ffff;
            let i = id(1_700_000_000 + k as u32, p, counter);
            let e = epochs.assign(seq, &i);
            assert_ne!(e, ODD);
            assert_eq!(epochs.id(seq, secs(&i), e), i);
            entries.push((seq, secs(&i), e));
        }
        assert_eq!(epochs.epochs.len(), 1);
        for &(seq, secs, e) in &entries {
            let i = epochs.id(seq, secs, e);
            assert_eq!(find(&epochs, &entries, &i), Some(seq));
        }
        assert_eq!(find(&epochs, &entries, &id(1, p, 9)), None);
    }

    #[test]
    fn ids_that_fit_no_epoch_are_kept_whole_and_epochs_are_reused() {
        let mut epochs = Epochs::default();
        let p = [9; 5];
        let mut entries = Vec::new();
        // One process, a different delta each time: the first few get epochs, the rest are odd.
        for seq in 0..(PER_PROCESS as u64 + 5) {
            let i = id(7, p, (seq * 1000) as u32);
            let e = epochs.assign(seq, &i);
            assert_eq!(e == ODD, seq >= PER_PROCESS as u64, "seq {seq}");
            assert_eq!(epochs.id(seq, 7, e), i);
            entries.push((seq, 7, e));
        }
        for &(seq, secs, e) in &entries {
            assert_eq!(find(&epochs, &entries, &epochs.id(seq, secs, e)), Some(seq));
        }
        for &(seq, _, e) in &entries {
            epochs.release(seq, e);
        }
        assert!(
            epochs.by_process.is_empty() && epochs.odd.is_empty() && epochs.odd_by_seq.is_empty()
        );
        let again = epochs.assign(50, &id(7, p, 1));
        assert!(
            (again as usize) < PER_PROCESS,
            "a freed epoch number is used again"
        );
    }
}
