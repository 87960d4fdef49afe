//! Gathers concurrent requests of one kind into one statement. While a batch runs, the next
//! requests queue up and go together in the next one, so under load each statement (and
//! commit) serves many clients, and an idle node answers a lone request at once.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Mutex, Notify};

use super::{copied, Conn};
use crate::error::EngineError;

/// Requests in one statement at most.
const MAX_BATCH: usize = 256;
/// Requests a batch needs to start while another is in flight; fewer wait for that one to end
/// (or for more to come), so the second connection overlaps commits under load without
/// turning every lone request into a commit of its own.
const MIN_OVERLAP: usize = 4;
/// Payload bytes in one statement at most (a bind parameter is capped at 1 GB by the protocol).
const MAX_BATCH_BYTES: usize = 32 << 20;

type Job<Req, Resp> = (Req, oneshot::Sender<Result<Resp, EngineError>>);

pub(super) struct Batcher<Req, Resp> {
    tx: mpsc::UnboundedSender<Job<Req, Resp>>,
}

impl<Req: Send + 'static, Resp: Send + 'static> Batcher<Req, Resp> {
    /// Runs batches through `run`, one at a time on each of `conns`, until the batcher is
    /// dropped. A free connection takes whatever is waiting, so with two of them one batch
    /// gathers and runs while the other waits for its commit, instead of every request waiting
    /// for the commit in flight to end before its own statement can even start.
    pub(super) fn spawn<F, Fut>(conns: Vec<Arc<Conn>>, run: F, weight: fn(&Req) -> usize) -> Self
    where
        F: Fn(Arc<Conn>, Vec<Req>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<Vec<Resp>, EngineError>> + Send + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel::<Job<Req, Resp>>();
        let queue = Arc::new(Queue {
            rx: Mutex::new(rx),
            in_flight: AtomicUsize::new(0),
            ended: Notify::new(),
        });
        for conn in conns {
            tokio::spawn(work(conn, queue.clone(), run.clone(), weight));
        }
        Batcher { tx }
    }

    /// Queues `req` for the next batch and waits for its answer.
    pub(super) async fn submit(&self, req: Req) -> Result<Resp, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send((req, tx)).map_err(|_| EngineError::Closed)?;
        rx.await.map_err(|_| EngineError::Closed)?
    }
}

/// What the connections of one kind share: the waiting requests (held by the one gathering),
/// how many batches run, and a signal when one ends.
struct Queue<Req, Resp> {
    rx: Mutex<mpsc::UnboundedReceiver<Job<Req, Resp>>>,
    in_flight: AtomicUsize,
    ended: Notify,
}

/// One connection's loop: gather what is waiting, run it, answer every caller.
async fn work<Req, Resp, F, Fut>(
    conn: Arc<Conn>,
    queue: Arc<Queue<Req, Resp>>,
    run: F,
    weight: fn(&Req) -> usize,
) where
    F: Fn(Arc<Conn>, Vec<Req>) -> Fut + Send,
    Fut: Future<Output = Result<Vec<Resp>, EngineError>> + Send,
    Req: Send,
    Resp: Send,
{
    let mut held: Option<Job<Req, Resp>> = None;
    loop {
        let mut jobs = Vec::new();
        let mut bytes = 0;
        let mut closed = false;
        {
            let mut rx = queue.rx.lock().await;
            let first = match held.take() {
                Some(j) => j,
                None => match rx.recv().await {
                    Some(j) => j,
                    None => break,
                },
            };
            bytes += weight(&first.0);
            jobs.push(first);
            loop {
                while jobs.len() < MAX_BATCH && held.is_none() {
                    match rx.try_recv() {
                        Ok(j) => {
                            let w = weight(&j.0);
                            if bytes + w > MAX_BATCH_BYTES {
                                held = Some(j);
                            } else {
                                bytes += w;
                                jobs.push(j);
                            }
                        }
                        Err(_) => break,
                    }
                }
                if jobs.len() >= MIN_OVERLAP || held.is_some() || closed {
                    break;
                }
                // Registered before the check, so an end between the two is not missed.
                let ended = queue.ended.notified();
                tokio::pin!(ended);
                ended.as_mut().enable();
                if queue.in_flight.load(Ordering::Acquire) == 0 {
                    break;
                }
                tokio::select! {
                    j = rx.recv() => match j {
                        Some(j) if bytes + weight(&j.0) > MAX_BATCH_BYTES => held = Some(j),
                        Some(j) => {
                            bytes += weight(&j.0);
                            jobs.push(j);
                        }
                        None => closed = true,
                    },
                    _ = ended => {}
                }
            }
            queue.in_flight.fetch_add(1, Ordering::AcqRel);
        }
        let (reqs, replies): (Vec<Req>, Vec<_>) = jobs.into_iter().unzip();
        let result = run(conn.clone(), reqs).await;
        queue.in_flight.fetch_sub(1, Ordering::AcqRel);
        queue.ended.notify_waiters();
        match result {
            Ok(resps) => {
                for (reply, resp) in replies.into_iter().zip(resps) {
                    let _ = reply.send(Ok(resp));
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(copied(&e)));
                }
            }
        }
    }
}
