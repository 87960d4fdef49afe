//! The accept loop: HTTP/1.1 with Title-Case response header names, keep-alive, upgrades, a
//! header-read timeout, a write-stall deadline and graceful shutdown.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::Router;
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tower::ServiceExt;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("accepting a connection failed: {0}")]
    Accept(#[from] std::io::Error),
    #[error("{name} must be a whole number of milliseconds above 0, not {value:?}")]
    BadSetting { name: &'static str, value: String },
}

/// How long a client may take to send a request's headers before its connection is closed.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long in-flight connections get to finish once shutdown starts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a response may go without the client taking any more of it.
const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Least time between two warnings about failing accepts.
const ACCEPT_WARNING_EVERY: Duration = Duration::from_secs(60);
/// Environment variable that overrides `WRITE_STALL_TIMEOUT`, in milliseconds.
const WRITE_STALL_ENV: &str = "RELAY_HTTP_WRITE_STALL_MS";
/// Response bodies reach hyper in pieces of at most this size. hyper only asks for the next
/// piece once its write buffer has room, so each piece it takes shows that the client read.
const SLICE: usize = 64 * 1024;

fn write_stall_timeout() -> Result<Duration, ServeError> {
    match std::env::var(WRITE_STALL_ENV) {
        Err(_) => Ok(WRITE_STALL_TIMEOUT),
        Ok(value) => match value.trim().parse::<u64>() {
            Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
            _ => Err(ServeError::BadSetting { name: WRITE_STALL_ENV, value }),
        },
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let write_stall = write_stall_timeout()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut last_accept_warning = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) if is_transient(&err) => {
                    // Out of descriptors every retry fails, twenty times a second for as long
                    // as it lasts: one line now and then says as much.
                    if last_accept_warning.is_none_or(|at: Instant| at.elapsed() >= ACCEPT_WARNING_EVERY) {
                        tracing::warn!(%err, "accept failed; retrying (repeats are logged at most once a minute)");
                        last_accept_warning = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(err) => return Err(err.into()),
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut stop_rx = stop_rx.clone();
        connections.spawn(async move {
            let progress = Arc::new(Progress::new());
            let service = {
                let progress = progress.clone();
                hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    // hyper reads the next request only once the previous response is flushed.
                    progress.request_started();
                    let app = app.clone();
                    let progress = progress.clone();
                    async move {
                        let res = app.oneshot(req.map(axum::body::Body::new)).await?;
                        progress.response_started();
                        Ok::<_, std::convert::Infallible>(res.map(|body| Paced::new(body, progress)))
                    }
                })
            };
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .title_case_headers(true)
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
            tokio::pin!(conn);
            let stalled = progress.stalled(write_stall);
            tokio::pin!(stalled);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(%peer, %err, "connection ended with an error");
                    }
                }
                () = &mut stalled => {
                    tracing::debug!(%peer, "client stopped reading its response; connection closed");
                }
                _ = stop_rx.changed() => {
                    conn.as_mut().graceful_shutdown();
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        () = &mut stalled => {}
                    }
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
    // Closing the socket now makes new clients fail at once and try elsewhere; left open, the
    // kernel would keep accepting them for the whole drain without anyone to answer them.
    drop(listener);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

fn is_transient(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(err.kind(), ConnectionAborted | ConnectionReset | Interrupted | WouldBlock)
        || err.raw_os_error() == Some(24) // EMFILE: out of descriptors, try again shortly
        || err.raw_os_error() == Some(23)
}

/// Whether a connection is writing a response and when the client last took some of it.
///
/// The clock runs from the response until the next request, not only while the body is being
/// handed over: hyper's buffer and the socket's still hold the end of a response after the body
/// has given its last piece, and nothing here can see them drain. A connection left idle after
/// a response is therefore closed after the deadline too, if the header-read timeout has not
/// closed it first.
struct Progress {
    origin: Instant,
    /// Milliseconds from `origin` to the last sign that the client reads.
    last_ms: AtomicU64,
    writing: AtomicBool,
    response_started: Notify,
}

impl Progress {
    fn new() -> Progress {
        Progress { origin: Instant::now(), last_ms: AtomicU64::new(0), writing: AtomicBool::new(false), response_started: Notify::new() }
    }

    fn touch(&self) {
        self.last_ms.store(self.origin.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn request_started(&self) {
        self.writing.store(false, Ordering::Relaxed);
    }

    fn response_started(&self) {
        self.touch();
        self.writing.store(true, Ordering::Relaxed);
        self.response_started.notify_one();
    }

    /// Resolves once a response has gone `limit` without the client taking any of it.
    async fn stalled(&self, limit: Duration) {
        loop {
            if !self.writing.load(Ordering::Relaxed) {
                self.response_started.notified().await;
                continue;
            }
            let due = self.origin + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + limit;
            if Instant::now() >= due {
                return;
            }
            tokio::time::sleep_until(due).await;
        }
    }
}

/// A response body handed to hyper in slices of at most `SLICE` bytes, each marking progress.
/// Progress is watched here rather than on the socket because the channel face takes an
/// upgraded connection back as the plain `TokioIo<TcpStream>` it was served on, so the
/// transport cannot be wrapped.
struct Paced<B> {
    inner: B,
    /// What is left of the data frame being sliced.
    rest: Bytes,
    progress: Arc<Progress>,
}

impl<B> Paced<B> {
    fn new(inner: B, progress: Arc<Progress>) -> Self {
        Paced { inner, rest: Bytes::new(), progress }
    }
}

impl<B> Body for Paced<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        while this.rest.is_empty() {
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => this.rest = data,
                    Err(frame) => {
                        this.progress.touch();
                        return Poll::Ready(Some(Ok(frame)));
                    }
                },
                other => return Poll::Ready(other),
            }
        }
        let slice = this.rest.split_to(this.rest.len().min(SLICE));
        this.progress.touch();
        Poll::Ready(Some(Ok(Frame::data(slice))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let rest = self.rest.len() as u64;
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + rest);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + rest);
        }
        hint
    }
}
