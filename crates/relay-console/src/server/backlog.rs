//! How much one connection owes its client, so that a client that pipelines requests and never
//! reads the replies stops being read instead of making its replies pile up without bound.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tokio::sync::Notify;

/// Requests of one client that may wait for their reply to be written. Pipelining clients
/// (`moulti load`, `diff`, `manpage`) send everything before reading anything, so this must
/// cover their longest runs; a client beyond it is not read until it reads its replies.
const MAX_UNANSWERED: usize = 65_536;
/// Reply bytes of one client that may wait to be written (echoed replies are as large as
/// their request).
const MAX_UNSENT_BYTES: usize = 16 * 1024 * 1024;

/// What one connection owes its client. The reader stops reading while too much is owed, so a
/// client that never reads its replies cannot make them grow without bound.
#[derive(Debug, Default)]
pub(super) struct Backlog {
    /// Replies expected (requests read, error replies decided) and not yet written.
    unanswered: AtomicUsize,
    /// Bytes of queued replies not yet written.
    unsent: AtomicUsize,
    /// The writer is gone (client gone or connection closed): nothing will be written again.
    writer_done: AtomicBool,
    /// Signalled whenever the writer makes progress or stops.
    progress: Notify,
}

impl Backlog {
    fn over(&self) -> bool {
        !self.writer_done.load(Ordering::Acquire)
            && (self.unanswered.load(Ordering::Acquire) >= MAX_UNANSWERED
                || self.unsent.load(Ordering::Acquire) >= MAX_UNSENT_BYTES)
    }

    /// Waits until the client has read enough of its replies.
    pub(super) async fn room(&self) {
        loop {
            let progressed = self.progress.notified();
            tokio::pin!(progressed);
            progressed.as_mut().enable();
            if !self.over() {
                return;
            }
            progressed.await;
        }
    }

    pub(super) fn expect_reply(&self) {
        self.unanswered.fetch_add(1, Ordering::AcqRel);
    }

    pub(super) fn queued(&self, bytes: usize) {
        self.unsent.fetch_add(bytes, Ordering::AcqRel);
    }

    pub(super) fn written(&self, bytes: usize) {
        self.unsent.fetch_sub(bytes, Ordering::AcqRel);
        let _ = self
            .unanswered
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        self.progress.notify_waiters();
    }

    pub(super) fn writer_stopped(&self) {
        self.writer_done.store(true, Ordering::Release);
        self.progress.notify_waiters();
    }
}
