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
        let secs = (now_ms / 1000) as u32;
        let count = self.counter.fetch_add(1, Ordering::Relaxed) & 0xff_ffff;
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
}
