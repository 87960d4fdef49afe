//! The one thread that writes. Callers hand it their changes and wait; it takes everything that
//! is waiting, commits it in one transaction and answers them all. One fsync then covers many
//! requests, which is what lets durable pushes scale with concurrency (group commit).

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

pub(crate) type CommitResult = Result<(), Arc<StoreError>>;

struct Job {
    changes: Vec<Change>,
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

    /// Queues changes for the next commit. Call while holding the engine's state lock so that
    /// commits happen in the order the changes were made.
    pub(crate) fn submit(&self, changes: Vec<Change>) -> oneshot::Receiver<CommitResult> {
        let (done, rx) = oneshot::channel();
        // A send fails only when the writer thread is gone; the receiver then reports it.
        if let Some(tx) = &self.tx {
            let _ = tx.send(Job { changes, done });
        }
        rx
    }
}

fn run(store: Arc<dyn Store>, durability: Durability, rx: mpsc::Receiver<Job>) {
    let mut last_sync = Instant::now();
    let mut dirty = false;
    let mut last_batch = 1;
    loop {
        let first = if dirty {
            match rx.recv_timeout(RELAXED_SYNC_INTERVAL) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    sync(&*store, &mut dirty, &mut last_sync);
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
        let durable = match durability {
            Durability::Immediate => true,
            Durability::Relaxed => last_sync.elapsed() >= RELAXED_SYNC_INTERVAL,
        };
        let result = if changes.is_empty() && !durable {
            Ok(())
        } else {
            let started = Instant::now();
            let r = store.commit(&changes, durable).map_err(Arc::new);
            record_commit(jobs.len(), durable, started.elapsed());
            r
        };
        match &result {
            Ok(()) if durable => {
                last_sync = Instant::now();
                dirty = false;
            }
            Ok(()) => dirty = true,
            Err(err) => tracing::error!(
                error = &**err as &dyn std::error::Error,
                "queue commit failed"
            ),
        }
        for job in jobs {
            let _ = job.done.send(result.clone());
        }
    }
    if dirty {
        sync(&*store, &mut dirty, &mut last_sync);
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

fn sync(store: &dyn Store, dirty: &mut bool, last_sync: &mut Instant) {
    match store.commit(&[], true) {
        Ok(()) => {
            *dirty = false;
            *last_sync = Instant::now();
        }
        Err(err) => tracing::error!(error = &err as &dyn std::error::Error, "queue sync failed"),
    }
}
