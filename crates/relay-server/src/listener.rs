//! The accept loop: HTTP/1.1 with Title-Case response header names, keep-alive, upgrades, a
//! header-read timeout, a write-stall deadline and graceful shutdown.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::write_stall::WriteStall;

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
/// How long a write may find the socket full (the client reading nothing) before the
/// connection is given up.
const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Least time between two warnings about failing accepts.
const ACCEPT_WARNING_EVERY: Duration = Duration::from_secs(60);
/// Environment variable that overrides `WRITE_STALL_TIMEOUT`, in milliseconds.
const WRITE_STALL_ENV: &str = "RELAY_HTTP_WRITE_STALL_MS";

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
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                app.clone().oneshot(req.map(axum::body::Body::new))
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .title_case_headers(true)
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(WriteStall::new(stream, write_stall)), service).with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(%peer, %err, "connection ended with an error");
                    }
                }
                _ = stop_rx.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
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
