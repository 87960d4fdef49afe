//! Runs the async driver for synchronous callers. The `Store` trait is called from the writer
//! thread, from `spawn_blocking` and, at start-up, straight from async code; `block_on` of any
//! runtime panics in that last place. So the store owns a one-thread runtime that drives its
//! connections, and callers wait for answers on a std channel, which is allowed anywhere.

use std::future::Future;

use tokio::runtime::{Handle, Runtime};

use super::error::PostgresError;

pub(super) struct Bridge {
    runtime: Option<Runtime>,
    handle: Handle,
}

impl Bridge {
    pub(super) fn new() -> Result<Bridge, PostgresError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("relay-postgres")
            .enable_all()
            .build()
            .map_err(PostgresError::Runtime)?;
        let handle = runtime.handle().clone();
        Ok(Bridge {
            runtime: Some(runtime),
            handle,
        })
    }

    /// Runs `fut` on the store's runtime and blocks the calling thread until it is done.
    pub(super) fn run<T, F>(&self, fut: F) -> Result<T, PostgresError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, PostgresError>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        // The sender is dropped unanswered only when the runtime is shutting down.
        rx.recv().unwrap_or(Err(PostgresError::Closed))
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // The last handle on the store may go away inside the server's runtime, where a blocking
        // shutdown would panic; the store has already closed its connections by now.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
