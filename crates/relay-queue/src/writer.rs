//! The one thread that writes. Callers hand it their changes and wait; it takes everything that
//! is waiting, commits it in one transaction and answers them all. One fsync then covers many
//! requests, which is what lets durable pushes scale with concurrency (group commit).
//!
//! A job either waits for its changes to be synced (`submit`) or only for them to be written to
//! the store, which a crash of the process does not undo, leaving the sync to the next synced
//! commit or to `WRITTEN_SYNC_WITHIN` later (`submit_written`): a pull, whose loss in a power
//! cut makes its message pending again (docs/queue.md, "What a reply waits for").
//!
//! A lone client's synced commit is made in its own thread when the writer has nothing queued
//! (`Submitted::Inline`): handing it to the writer thread and back cost two wake-ups per request,
//! which at one client were a large part of the cycle. Under concurrency the writer thread
//! commits, so that one sync serves many requests.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
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
    shared: Arc<Shared>,
    store: Arc<dyn Store>,
    durability: Durability,
}

/// What the writer thread and inline commits share.
struct Shared {
    /// Held by whoever commits, so commits keep the order their changes were submitted in.
    committing: AtomicBool,
    /// Jobs sent to the writer thread and not answered yet.
    queued: AtomicUsize,
    /// How many jobs the writer thread's last commit served: above one, requests come
    /// together and the writer thread's group commit serves them better than inline commits.
    last_batch: AtomicUsize,
    /// When the oldest change written but not synced must be synced by.
    sync_due: Mutex<Option<Instant>>,
}

impl Shared {
    /// Waits for an inline commit to finish: it lasts one commit, and only happens while the
    /// writer thread has nothing queued, so this is rare and short.
    fn claim(&self) {
        while self
            .committing
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::thread::sleep(Duration::from_micros(20));
        }
    }

    fn release(&self) {
        self.committing.store(false, Ordering::Release);
    }

    fn sync_due(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.sync_due.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A submitted commit, waited for with `wait`.
pub(crate) enum Submitted<'w> {
    /// Handed to the writer thread.
    Queued(oneshot::Receiver<CommitResult>),
    /// To be committed by the caller itself, already holding the right to commit next.
    Inline(Inline<'w>),
}

pub(crate) struct Inline<'w> {
    writer: &'w Writer,
    changes: Option<Vec<Change>>,
}

impl Inline<'_> {
    fn commit(&mut self) -> Option<CommitResult> {
        let changes = self.changes.take()?;
        let shared = &self.writer.shared;
        let started = Instant::now();
        let result = self.writer.store.commit(&changes, true).map_err(Arc::new);
        record_commit(1, true, started.elapsed());
        match &result {
            Ok(()) => *shared.sync_due() = None,
            Err(err) => tracing::error!(
                error = &**err as &dyn std::error::Error,
                "queue commit failed"
            ),
        }
        shared.release();
        Some(result)
    }
}

impl Drop for Inline<'_> {
    /// A caller that goes away before waiting still gets its changes committed, as a queued job
    /// would be: memory already has them.
    fn drop(&mut self) {
        self.commit();
    }
}

impl Submitted<'_> {
    /// The commit's result; `None` when the writer thread is gone.
    pub(crate) async fn wait(self) -> Option<CommitResult> {
        match self {
            Submitted::Queued(rx) => rx.await.ok(),
            Submitted::Inline(mut inline) => inline.commit(),
        }
    }
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
        let shared = Arc::new(Shared {
            committing: AtomicBool::new(false),
            queued: AtomicUsize::new(0),
            last_batch: AtomicUsize::new(1),
            sync_due: Mutex::new(None),
        });
        let thread = {
            let (store, shared) = (store.clone(), shared.clone());
            std::thread::Builder::new()
                .name("relay-queue-writer".into())
                .spawn(move || run(store, durability, rx, shared))?
        };
        Ok(Writer {
            tx: Some(tx),
            thread: Some(thread),
            shared,
            store,
            durability,
        })
    }

    /// Queues changes for the next commit, answered once they are as durable as the store's
    /// durability promises. Call while holding the engine's state lock so that commits happen
    /// in the order the changes were made.
    pub(crate) fn submit(&self, changes: Vec<Change>) -> Submitted<'_> {
        if self.may_commit_inline() {
            return Submitted::Inline(Inline {
                writer: self,
                changes: Some(changes),
            });
        }
        Submitted::Queued(self.send(changes, true))
    }

    /// Whether the caller may commit in its own thread, and if so takes the right to commit
    /// next: only when nothing submitted before is still waiting (so the order holds) and the
    /// writer thread's last commit was a lone request's.
    fn may_commit_inline(&self) -> bool {
        let shared = &self.shared;
        if self.durability != Durability::Immediate
            || self.tx.is_none()
            || shared.last_batch.load(Ordering::Relaxed) > 1
            || shared.queued.load(Ordering::Acquire) > 0
            || shared
                .committing
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        // The writer thread may have taken a job between the two loads: it answers a job only
        // after its commit, so with none queued now, every earlier change is committed.
        if shared.queued.load(Ordering::Acquire) > 0 {
            shared.release();
            return false;
        }
        true
    }

    /// As `submit`, but answered once the changes are written, before they are synced: they
    /// then survive a crash of the process, and a crash of the machine only within
    /// `WRITTEN_SYNC_WITHIN` of the answer, or until the next synced commit if that is sooner.
    pub(crate) fn submit_written(&self, changes: Vec<Change>) -> Submitted<'_> {
        Submitted::Queued(self.send(changes, false))
    }

    fn send(&self, changes: Vec<Change>, sync: bool) -> oneshot::Receiver<CommitResult> {
        let (done, rx) = oneshot::channel();
        // A send fails only when the writer thread is gone; the receiver then reports it.
        if let Some(tx) = &self.tx {
            self.shared.queued.fetch_add(1, Ordering::AcqRel);
            let _ = tx.send(Job {
                changes,
                sync,
                done,
            });
        }
        rx
    }
}

fn run(
    store: Arc<dyn Store>,
    durability: Durability,
    rx: mpsc::Receiver<Job>,
    shared: Arc<Shared>,
) {
    let sync_within = match durability {
        Durability::Immediate => WRITTEN_SYNC_WITHIN,
        Durability::Relaxed => RELAXED_SYNC_INTERVAL,
    };
    let mut last_batch = 1;
    loop {
        let due = *shared.sync_due();
        let first = if let Some(due) = due {
            match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    shared.claim();
                    let mut sync_due = shared.sync_due();
                    if sync_due.is_some() {
                        sync(&*store, &mut sync_due, sync_within);
                    }
                    drop(sync_due);
                    shared.release();
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
        shared.last_batch.store(last_batch, Ordering::Relaxed);
        let changes: Vec<Change> = jobs
            .iter_mut()
            .flat_map(|j| std::mem::take(&mut j.changes))
            .collect();
        let asked = durability == Durability::Immediate && jobs.iter().any(|j| j.sync);
        shared.claim();
        let mut sync_due = shared.sync_due();
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
            Ok(()) if durable => *sync_due = None,
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
                    *sync_due = Some(Instant::now() + sync_within);
                }
            }
        }
        drop(sync_due);
        shared.release();
        let answered = jobs.len();
        for job in jobs {
            let _ = job.done.send(result.clone());
        }
        shared.queued.fetch_sub(answered, Ordering::AcqRel);
    }
    let mut sync_due = shared.sync_due();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{IndexRecord, Message};

    /// The seqs one commit carried, whether it was synced, and the thread that made it.
    type Commit = (Vec<u64>, bool, Option<String>);

    #[derive(Default)]
    struct Recording {
        commits: Mutex<Vec<Commit>>,
    }

    impl Store for Recording {
        fn load(&self) -> Result<Vec<Message>, StoreError> {
            Ok(Vec::new())
        }
        fn scan(&self, _: &mut dyn FnMut(IndexRecord<'_>)) -> Result<(), StoreError> {
            Ok(())
        }
        fn read_message(&self, _: u64) -> Result<Option<(Message, bytes::Bytes)>, StoreError> {
            Ok(None)
        }
        fn read_records(&self, seqs: &[u64]) -> Result<Vec<Option<Message>>, StoreError> {
            Ok(vec![None; seqs.len()])
        }
        fn commit(&self, changes: &[Change], durable: bool) -> Result<(), StoreError> {
            let seqs = changes
                .iter()
                .filter_map(|c| match c {
                    Change::Delete { seq } => Some(*seq),
                    _ => None,
                })
                .collect();
            let thread = std::thread::current().name().map(str::to_string);
            self.commits.lock().unwrap().push((seqs, durable, thread));
            Ok(())
        }
        fn read_payload(&self, _: u64) -> Result<Option<bytes::Bytes>, StoreError> {
            Ok(None)
        }
    }

    fn delete(seq: u64) -> Vec<Change> {
        vec![Change::Delete { seq }]
    }

    #[tokio::test]
    async fn a_lone_synced_commit_is_made_inline_and_a_pull_by_the_writer_thread() {
        let store = Arc::new(Recording::default());
        let writer = Writer::spawn(store.clone(), Durability::Immediate).unwrap();
        let pushed = writer.submit(delete(1));
        assert!(matches!(pushed, Submitted::Inline(_)));
        pushed.wait().await.unwrap().unwrap();
        writer
            .submit_written(delete(2))
            .wait()
            .await
            .unwrap()
            .unwrap();
        writer.submit(delete(3)).wait().await.unwrap().unwrap();
        drop(writer);
        let commits = store.commits.lock().unwrap().clone();
        let writer_thread = Some("relay-queue-writer".to_string());
        assert_eq!(commits[0].0, [1]);
        assert!(commits[0].1 && commits[0].2 != writer_thread, "{commits:?}");
        assert_eq!((&commits[1].0[..], commits[1].1), (&[2][..], false));
        assert_eq!(commits[1].2, writer_thread);
        // The next synced commit syncs the written pull with it (unless the writer's own sync
        // came first, on a slow machine).
        let third = commits.iter().find(|c| c.0 == [3]).unwrap();
        assert!(third.1, "{commits:?}");
    }

    #[test]
    fn a_written_change_is_synced_soon_without_another_commit() {
        let store = Arc::new(Recording::default());
        let writer = Writer::spawn(store.clone(), Durability::Immediate).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(writer.submit_written(delete(1)).wait())
            .unwrap()
            .unwrap();
        let start = Instant::now();
        while !store.commits.lock().unwrap().iter().any(|c| c.1) {
            assert!(start.elapsed() < Duration::from_secs(30), "never synced");
            std::thread::sleep(Duration::from_millis(5));
        }
        let commits = store.commits.lock().unwrap().clone();
        assert_eq!(commits.last().unwrap().0, Vec::<u64>::new(), "{commits:?}");
        drop(writer);
    }

    /// Submitters take turns under one lock, as the engine's callers do; inline and queued
    /// commits mix, and the store must see the changes in the order they were submitted.
    #[test]
    fn commits_keep_the_submission_order_whoever_makes_them() {
        let store = Arc::new(Recording::default());
        let writer = Arc::new(Writer::spawn(store.clone(), Durability::Immediate).unwrap());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .build()
            .unwrap();
        let turn = Arc::new(Mutex::new(0u64));
        let tasks: Vec<_> = (0..16)
            .map(|t| {
                let (writer, turn) = (writer.clone(), turn.clone());
                rt.spawn(async move {
                    for i in 0..200 {
                        let submitted = {
                            let mut next = turn.lock().unwrap();
                            *next += 1;
                            if (t + i) % 3 == 0 {
                                writer.submit_written(delete(*next))
                            } else {
                                writer.submit(delete(*next))
                            }
                        };
                        submitted.wait().await.unwrap().unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            rt.block_on(task).unwrap();
        }
        drop(rt);
        Arc::into_inner(writer).unwrap();
        let seqs: Vec<u64> = store
            .commits
            .lock()
            .unwrap()
            .iter()
            .flat_map(|c| c.0.clone())
            .collect();
        assert_eq!(seqs, (1..=16 * 200).collect::<Vec<_>>());
    }
}
