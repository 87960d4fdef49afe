//! The one thread that writes. Callers hand it their changes and wait; it takes everything that
//! is waiting, commits it in one transaction and answers them all. One fsync then covers many
//! requests, which is what lets durable pushes scale with concurrency (group commit).
//!
//! A job either waits for its changes to be synced (`submit`) or only for them to be written to
//! the store, which a crash of the process does not undo, leaving the sync to the next synced
//! commit or to `WRITTEN_SYNC_WITHIN` later (`submit_written`): a pull, whose loss in a power
//! cut makes its message pending again (docs/queue.md, "What a reply waits for").

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::store::{Change, Durability, Store, StoreError};

/// At most this many requests share one commit, so one commit never holds up callers for long.
const MAX_JOBS_PER_COMMIT: usize = 1024;
/// The longest a commit waits for callers that the previous batch suggests are coming.
const LINGER: Duration = Duration::from_micros(200);
/// How stale the disk may get in relaxed mode.
const RELAXED_SYNC_INTERVAL: Duration = Duration::from_millis(100);
/// In immediate mode, how long a change answered once written may wait for a sync when no
/// synced commit comes to take it along. Long enough for a client's next request (a pull's ack)
/// to arrive and sync it with its own commit, short enough to keep the window a power cut can
/// reach small.
const WRITTEN_SYNC_WITHIN: Duration = Duration::from_millis(20);

pub(crate) type CommitResult = Result<(), Arc<StoreError>>;

struct Job {
    changes: Vec<Change>,
    /// Whether the caller waits for the sync, or only for the write.
    sync: bool,
    done: oneshot::Sender<CommitResult>,
}

pub(crate) struct Writer {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Writer {
    /// Lets the thread commit what is queued and close the store before the engine is gone, so
    /// the same store can be opened again at once.
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Writer {
    pub(crate) fn spawn(store: Arc<dyn Store>, durability: Durability) -> std::io::Result<Writer> {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("relay-queue-writer".into())
            .spawn(move || run(store, durability, rx))?;
        Ok(Writer {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queues changes for the next commit, answered once they are as durable as the store's
    /// durability promises. Call while holding the engine's state lock so that commits happen
    /// in the order the changes were made.
    pub(crate) fn submit(&self, changes: Vec<Change>) -> oneshot::Receiver<CommitResult> {
        self.send(changes, true)
    }

    /// As `submit`, but answered once the changes are written, before they are synced: they
    /// then survive a crash of the process, and a crash of the machine only within
    /// `WRITTEN_SYNC_WITHIN` of the answer, or until the next synced commit if that is sooner.
    pub(crate) fn submit_written(&self, changes: Vec<Change>) -> oneshot::Receiver<CommitResult> {
        self.send(changes, false)
    }

    fn send(&self, changes: Vec<Change>, sync: bool) -> oneshot::Receiver<CommitResult> {
        let (done, rx) = oneshot::channel();
        // A send fails only when the writer thread is gone; the receiver then reports it.
        if let Some(tx) = &self.tx {
            let _ = tx.send(Job {
                changes,
                sync,
                done,
            });
        }
        rx
    }
}

fn run(store: Arc<dyn Store>, durability: Durability, rx: mpsc::Receiver<Job>) {
    let sync_within = match durability {
        Durability::Immediate => WRITTEN_SYNC_WITHIN,
        Durability::Relaxed => RELAXED_SYNC_INTERVAL,
    };
    // When the oldest change written but not synced must be synced by.
    let mut sync_due: Option<Instant> = None;
    let mut last_batch = 1;
    loop {
        let first = if let Some(due) = sync_due {
            match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    sync(&*store, &mut sync_due, sync_within);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(job) => job,
                Err(_) => break,
            }
        };
        let mut jobs = vec![first];
        while jobs.len() < MAX_JOBS_PER_COMMIT {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        // When the last commit served more callers than are waiting now, the rest are likely
        // a few microseconds away: waiting briefly for them makes one commit (and one fsync)
        // do the work of several. A lone client never waits, since its batches are of one.
        let linger_until = Instant::now() + LINGER;
        while jobs.len() < last_batch.min(MAX_JOBS_PER_COMMIT) {
            let left = linger_until.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        last_batch = jobs.len();
        let changes: Vec<Change> = jobs
            .iter_mut()
            .flat_map(|j| std::mem::take(&mut j.changes))
            .collect();
        let asked = durability == Durability::Immediate && jobs.iter().any(|j| j.sync);
        let durable = asked || sync_due.is_some_and(|due| Instant::now() >= due);
        let result = if changes.is_empty() && !durable {
            Ok(())
        } else {
            let started = Instant::now();
            let r = store.commit(&changes, durable).map_err(Arc::new);
            record_commit(jobs.len(), durable, started.elapsed());
            r
        };
        match &result {
            Ok(()) if durable => sync_due = None,
            Ok(()) if !changes.is_empty() => {
                sync_due.get_or_insert_with(|| Instant::now() + sync_within);
            }
            Ok(()) => {}
            Err(err) => {
                tracing::error!(
                    error = &**err as &dyn std::error::Error,
                    "queue commit failed"
                );
                // Tried again later, not at once: a failing disk would otherwise be retried in
                // a loop.
                if sync_due.is_some() {
                    sync_due = Some(Instant::now() + sync_within);
                }
            }
        }
        for job in jobs {
            let _ = job.done.send(result.clone());
        }
    }
    if sync_due.is_some() {
        sync(&*store, &mut sync_due, sync_within);
    }
}

/// Requests per commit and, for a synced commit, how long it took (the fsync dominates it).
fn record_commit(requests: usize, durable: bool, took: Duration) {
    metrics::histogram!("relay_store_commit_batch_size", "store" => "queue")
        .record(requests as f64);
    if durable {
        metrics::histogram!("relay_store_fsync_duration_seconds", "store" => "queue")
            .record(took.as_secs_f64());
    }
}

fn sync(store: &dyn Store, sync_due: &mut Option<Instant>, retry_in: Duration) {
    match store.commit(&[], true) {
        Ok(()) => *sync_due = None,
        Err(err) => {
            tracing::error!(error = &err as &dyn std::error::Error, "queue sync failed");
            *sync_due = Some(Instant::now() + retry_in);
        }
    }
}
