//! ObjectId-shaped ids: 4 bytes of seconds since the epoch, 5 bytes random per process, and a
//! 3-byte counter, so ids sort roughly by creation and never repeat within a process.

use std::sync::atomic::{AtomicU32, Ordering};

use relay_wire::queue::MessageId;

pub(crate) struct IdGenerator {
    process: [u8; 5],
    counter: AtomicU32,
}

impl IdGenerator {
    pub(crate) fn new() -> IdGenerator {
        IdGenerator {
            process: rand::random(),
            counter: AtomicU32::new(rand::random::<u32>() & 0xff_ffff),
        }
    }

    /// Ids whose process part is given: a node number from the database, unique per node.
    pub(crate) fn with_process(process: [u8; 5]) -> IdGenerator {
        IdGenerator {
            process,
            counter: AtomicU32::new(rand::random::<u32>() & 0xff_ffff),
        }
    }

    pub(crate) fn next(&self, now_ms: i64) -> MessageId {
        let count = self.counter.fetch_add(1, Ordering::Relaxed) & 0xff_ffff;
        self.make(now_ms, count)
    }

    /// The id of the message with this seq: the counter is the seq plus this process's random
    /// start, so that every id of a run is its seconds and its seq, which is what lets the
    /// in-memory index keep no id table (see `index/epochs.rs`). Seqs never repeat, so neither
    /// do these ids within 2^24 messages of one second.
    pub(crate) fn for_seq(&self, now_ms: i64, seq: u64) -> MessageId {
        let start = self.counter.load(Ordering::Relaxed);
        self.make(now_ms, start.wrapping_add(seq as u32) & 0xff_ffff)
    }

    fn make(&self, now_ms: i64, count: u32) -> MessageId {
        let secs = (now_ms / 1000) as u32;
        let mut id = [0u8; 12];
        id[..4].copy_from_slice(&secs.to_be_bytes());
        id[4..9].copy_from_slice(&self.process);
        id[9..].copy_from_slice(&count.to_be_bytes()[1..]);
        MessageId(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_start_with_the_time() {
        let g = IdGenerator::new();
        let a = g.next(1_479_206_465_000);
        let b = g.next(1_479_206_465_000);
        assert_ne!(a, b);
        assert_eq!(&a.to_string()[..8], format!("{:08x}", 1_479_206_465u32));
    }

    #[test]
    fn ids_for_seqs_advance_with_the_seq() {
        let g = IdGenerator::new();
        let a = g.for_seq(1_479_206_465_000, 41);
        let b = g.for_seq(1_479_206_465_000, 42);
        assert_ne!(a, b);
        assert_eq!(a.0[..9], b.0[..9]);
        let counter = |id: MessageId| u32::from_be_bytes([0, id.0[9], id.0[10], id.0[11]]);
        assert_eq!(counter(b), (counter(a) + 1) & 0xff_ffff);
    }
}
