//! Gathers concurrent requests of one kind into one statement. While a batch runs, the next
//! requests queue up and go together in the next one, so under load each statement (and
//! commit) serves many clients, and an idle node answers a lone request at once.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Mutex};

use super::{copied, Conn};
use crate::error::EngineError;

/// Requests in one statement at most.
const MAX_BATCH: usize = 256;
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
        let rx = Arc::new(Mutex::new(rx));
        for conn in conns {
            tokio::spawn(work(conn, rx.clone(), run.clone(), weight));
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

/// One connection's loop: gather what is waiting (the receiver is held only while gathering),
/// run it, answer every caller.
async fn work<Req, Resp, F, Fut>(
    conn: Arc<Conn>,
    rx: Arc<Mutex<mpsc::UnboundedReceiver<Job<Req, Resp>>>>,
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
        {
            let mut rx = rx.lock().await;
            let first = match held.take() {
                Some(j) => j,
                None => match rx.recv().await {
                    Some(j) => j,
                    None => break,
                },
            };
            bytes += weight(&first.0);
            jobs.push(first);
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => {
                        let w = weight(&j.0);
                        if bytes + w > MAX_BATCH_BYTES {
                            held = Some(j);
                            break;
                        }
                        bytes += w;
                        jobs.push(j);
                    }
                    Err(_) => break,
                }
            }
        }
        let (reqs, replies): (Vec<Req>, Vec<_>) = jobs.into_iter().unzip();
        match run(conn.clone(), reqs).await {
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
