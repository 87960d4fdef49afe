//! Gathers concurrent requests of one kind into one statement. While a batch runs, the next
//! requests queue up; when it is done they all go in the next one, so under load each statement
//! (and commit) serves many clients, and an idle node answers a lone request at once.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

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
    /// Runs batches through `run` on `conn` until the batcher is dropped.
    pub(super) fn spawn<F, Fut>(conn: Arc<Conn>, run: F, weight: fn(&Req) -> usize) -> Self
    where
        F: Fn(Arc<Conn>, Vec<Req>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<Resp>, EngineError>> + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job<Req, Resp>>();
        tokio::spawn(async move {
            let mut held: Option<Job<Req, Resp>> = None;
            loop {
                let first = match held.take() {
                    Some(j) => j,
                    None => match rx.recv().await {
                        Some(j) => j,
                        None => break,
                    },
                };
                let mut bytes = weight(&first.0);
                let mut jobs = vec![first];
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
        });
        Batcher { tx }
    }

    /// Queues `req` for the next batch and waits for its answer.
    pub(super) async fn submit(&self, req: Req) -> Result<Resp, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send((req, tx)).map_err(|_| EngineError::Closed)?;
        rx.await.map_err(|_| EngineError::Closed)?
    }
}
