//! The accept loop: HTTP/1.1 with Title-Case response header names, keep-alive, upgrades, a
//! header-read timeout, a write-stall deadline and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::linger::{Linger, LingerFlag};
use crate::tls::{self, TlsConfig};
use crate::write_stall::WriteStall;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("accepting a connection failed")]
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
/// How long a client of the TLS listener may take to send its first byte and finish the
/// TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Environment variable that overrides `HANDSHAKE_TIMEOUT`, in milliseconds.
const HANDSHAKE_ENV: &str = "RELAY_TLS_HANDSHAKE_MS";

fn write_stall_timeout() -> Result<Duration, ServeError> {
    millis_setting(WRITE_STALL_ENV, WRITE_STALL_TIMEOUT)
}

fn millis_setting(name: &'static str, default: Duration) -> Result<Duration, ServeError> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(value) => match value.trim().parse::<u64>() {
            Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
            _ => Err(ServeError::BadSetting { name, value }),
        },
    }
}

/// Reads the client's first byte and, when it starts a TLS handshake, completes the
/// handshake. A plain-HTTP request is answered in plain HTTP with a 400 saying to use https,
/// and any failure is logged at debug level: `None` then, and the connection is closed.
async fn tls_handshake(
    stream: TcpStream,
    tls: &TlsConfig,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let peer = stream.peer_addr().ok();
    let mut first = [0u8; 1];
    match stream.peek(&mut first).await {
        Ok(1) if tls::starts_tls_handshake(first[0]) => {}
        Ok(1) => {
            tracing::debug!(?peer, "a plain-HTTP request on the TLS port; refused");
            let mut stream = stream;
            let _ = stream.write_all(tls::PLAIN_HTTP_REFUSAL).await;
            let _ = stream.shutdown().await;
            // Closing with the request unread would reset the connection, and a reset can
            // destroy the answer before the client reads it: take what it sent first (a little,
            // briefly; the handshake's time limit bounds this too).
            let mut sink = [0u8; 4096];
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                let mut left: usize = 64 * 1024;
                while left > 0 {
                    match stream.read(&mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => left = left.saturating_sub(n),
                    }
                }
            })
            .await;
            return None;
        }
        _ => return None,
    }
    match tls.acceptor().accept(stream).await {
        Ok(stream) => Some(stream),
        Err(err) => {
            tracing::debug!(?peer, %err, "TLS handshake failed");
            None
        }
    }
}

/// A request extension: the request came over TLS, so URLs the server hands out for itself
/// (the channel face's upload URL) say `https`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Https;

/// One HTTP/1.1 connection (plain or TLS) until it ends or shutdown starts.
async fn serve_connection<I>(
    io: WriteStall<I>,
    peer: SocketAddr,
    app: Router,
    mut stop_rx: watch::Receiver<bool>,
    https: bool,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let linger = LingerFlag::default();
    let refused = linger.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut req = req.map(axum::body::Body::new);
        // The sign-in throttle counts guesses per client address.
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        if https {
            req.extensions_mut().insert(Https);
        }
        let (response, refused) = (app.clone().oneshot(req), refused.clone());
        async move {
            let mut response = response.await?;
            if response.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
                // The rest of the body is not read: the connection ends after this answer,
                // lingering until the client has sent what it was sending.
                refused.set();
                response.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .title_case_headers(true)
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let conn = builder
        .serve_connection(TokioIo::new(Linger::new(io, linger)), service)
        .with_upgrades();
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
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    serve_with(listener, app, None, shutdown).await
}

/// [`serve`], over TLS when `tls` is given: every connection must start with a TLS handshake,
/// and each takes the configuration `tls` holds when it is accepted.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsConfig>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let write_stall = write_stall_timeout()?;
    let handshake = millis_setting(HANDSHAKE_ENV, HANDSHAKE_TIMEOUT)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut last_accept_warning = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => match accept_failure(err.raw_os_error()) {
                    AcceptFailure::Connection => {
                        tracing::debug!(%err, "a connection failed before it was accepted");
                        continue;
                    }
                    AcceptFailure::Shortage => {
                        // Out of descriptors every retry fails, twenty times a second for as
                        // long as it lasts: one line now and then says as much.
                        if last_accept_warning.is_none_or(|at: Instant| at.elapsed() >= ACCEPT_WARNING_EVERY) {
                            tracing::warn!(error = &err as &dyn std::error::Error, "accept failed; retrying (repeats are logged at most once a minute)");
                            last_accept_warning = Some(Instant::now());
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                    AcceptFailure::Listener => return Err(err.into()),
                },
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let stop_rx = stop_rx.clone();
        match &tls {
            None => {
                connections.spawn(serve_connection(
                    WriteStall::new(stream, write_stall),
                    peer,
                    app,
                    stop_rx,
                    false,
                ));
            }
            Some(tls) => {
                let tls = tls.clone();
                connections.spawn(async move {
                    // The handshake runs here, in the connection's own task, never in the
                    // accept loop; a client that does not finish it in time is dropped.
                    let mut handshake_stop = stop_rx.clone();
                    let stream = tokio::select! {
                        done = tokio::time::timeout(handshake, tls_handshake(stream, &tls)) => match done {
                            Ok(Some(stream)) => stream,
                            Ok(None) => return,
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        },
                        _ = handshake_stop.changed() => return,
                    };
                    serve_connection(WriteStall::new(stream, write_stall), peer, app, stop_rx, true)
                        .await;
                });
            }
        }
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

/// What a failed accept(2) says, and so what the accept loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AcceptFailure {
    /// The connection being taken failed (reset or aborted by its client, refused by a
    /// firewall, a network error pending on it). Linux takes it off the queue as it reports
    /// the error, so the next accept sees the next client: retry at once.
    Connection,
    /// The system is short of descriptors, buffers or memory, or the error is one this list
    /// does not know: the server must outlive it, so pause briefly and retry.
    Shortage,
    /// The listening socket itself is unusable: every retry would fail the same way.
    Listener,
}

/// Linux's values; relay-server does without libc. EBADF, EFAULT and EINVAL are the same on
/// every Unix, so the errors that end the server are right everywhere; anything else
/// unknown elsewhere is retried with a pause.
mod errno {
    pub(super) const EPERM: i32 = 1;
    pub(super) const EINTR: i32 = 4;
    pub(super) const EBADF: i32 = 9;
    pub(super) const EAGAIN: i32 = 11;
    pub(super) const EFAULT: i32 = 14;
    pub(super) const EINVAL: i32 = 22;
    pub(super) const ENONET: i32 = 64;
    pub(super) const EPROTO: i32 = 71;
    #[cfg(target_os = "linux")]
    pub(super) const ENOTSOCK: i32 = 88;
    #[cfg(not(target_os = "linux"))]
    pub const ENOTSOCK: i32 = 38;
    pub(super) const ENOPROTOOPT: i32 = 92;
    pub(super) const EOPNOTSUPP: i32 = 95;
    pub(super) const ENETDOWN: i32 = 100;
    pub(super) const ENETUNREACH: i32 = 101;
    pub(super) const ECONNABORTED: i32 = 103;
    pub(super) const ECONNRESET: i32 = 104;
    pub(super) const ETIMEDOUT: i32 = 110;
    pub(super) const EHOSTDOWN: i32 = 112;
    pub(super) const EHOSTUNREACH: i32 = 113;
}

/// accept(2): only a bad descriptor, a socket that is not listening (EINVAL) or not a socket,
/// or a bad address buffer make the listener useless. EOPNOTSUPP would mean "not a stream
/// socket", which a `TcpListener` cannot be; on TCP it is one of the pending network errors
/// accept(2) says to retry, like ENETDOWN and EPROTO.
fn accept_failure(raw_os_error: Option<i32>) -> AcceptFailure {
    use errno::*;
    match raw_os_error {
        Some(EBADF | EINVAL | ENOTSOCK | EFAULT) => AcceptFailure::Listener,
        Some(
            ECONNABORTED | ECONNRESET | EINTR | EAGAIN | EPERM | EPROTO | ENOPROTOOPT | ENETDOWN
            | ENETUNREACH | EHOSTDOWN | EHOSTUNREACH | ENONET | EOPNOTSUPP | ETIMEDOUT,
        ) => AcceptFailure::Connection,
        _ => AcceptFailure::Shortage,
    }
}

#[cfg(test)]
mod accept_tests {
    use super::{accept_failure, AcceptFailure};

    /// Linux errno values, spelled out so that a wrong constant above shows here.
    #[test]
    fn only_an_unusable_listener_ends_the_loop() {
        for (errno, name) in [
            (9, "EBADF"),
            (14, "EFAULT"),
            (22, "EINVAL"),
            (88, "ENOTSOCK"),
        ] {
            assert_eq!(
                accept_failure(Some(errno)),
                AcceptFailure::Listener,
                "{name}"
            );
        }
        for (errno, name) in [
            (1, "EPERM"),
            (4, "EINTR"),
            (11, "EAGAIN"),
            (64, "ENONET"),
            (71, "EPROTO"),
            (92, "ENOPROTOOPT"),
            (95, "EOPNOTSUPP"),
            (100, "ENETDOWN"),
            (101, "ENETUNREACH"),
            (103, "ECONNABORTED"),
            (104, "ECONNRESET"),
            (110, "ETIMEDOUT"),
            (112, "EHOSTDOWN"),
            (113, "EHOSTUNREACH"),
        ] {
            assert_eq!(
                accept_failure(Some(errno)),
                AcceptFailure::Connection,
                "{name}"
            );
        }
        for (errno, name) in [
            (12, "ENOMEM"),
            (23, "ENFILE"),
            (24, "EMFILE"),
            (105, "ENOBUFS"),
            (7, "E2BIG"),
            (9999, "unknown"),
        ] {
            assert_eq!(
                accept_failure(Some(errno)),
                AcceptFailure::Shortage,
                "{name}"
            );
        }
        assert_eq!(
            accept_failure(None),
            AcceptFailure::Shortage,
            "not an OS error"
        );
    }

    /// The errors a real accept(2) gives on a socket that is not listening (EINVAL) and on a
    /// descriptor that is not a socket (ENOTSOCK).
    #[test]
    // Only a raw descriptor can make a TcpListener of what does not listen.
    #[allow(unsafe_code)]
    fn accepting_on_what_is_no_listener_ends_the_loop() {
        use std::os::fd::{FromRawFd, IntoRawFd};
        let listening = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let connected = std::net::TcpStream::connect(listening.local_addr().unwrap()).unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        for fd in [connected.into_raw_fd(), file.into_raw_fd()] {
            // SAFETY: the descriptor was just given up by its owner; the listener now closes it.
            let not_a_listener = unsafe { std::net::TcpListener::from_raw_fd(fd) };
            let err = not_a_listener
                .accept()
                .expect_err("accept on a descriptor that does not listen");
            assert_eq!(
                accept_failure(err.raw_os_error()),
                AcceptFailure::Listener,
                "{err}"
            );
        }
    }
}
