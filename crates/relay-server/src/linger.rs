//! Lingering close: a connection refused for a body over a limit is not closed while the client
//! is still sending. Closed with unread data, the kernel resets the connection, and a client
//! still writing its body (Python's http.client, curl) then reports a broken pipe or a reset
//! instead of the `413` it was sent. So the transport, once hyper lets go of it, reads and
//! discards what the client still sends, for a bounded time and size, and only then closes.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// How long a refused client may keep sending in all.
const LINGER_TIME: Duration = Duration::from_secs(30);
/// How long the client may send nothing before the connection is closed.
const LINGER_IDLE: Duration = Duration::from_secs(5);
/// How much is read and discarded at most.
const LINGER_BYTES: usize = 64 * 1024 * 1024;

/// Set when the connection's last response refused a body: the connection then lingers.
#[derive(Clone, Default)]
pub(crate) struct LingerFlag(Arc<AtomicBool>);

impl LingerFlag {
    pub(crate) fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

pub(crate) struct Linger<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> {
    inner: Option<T>,
    flag: LingerFlag,
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Linger<T> {
    pub(crate) fn new(inner: T, flag: LingerFlag) -> Self {
        Linger {
            inner: Some(inner),
            flag,
        }
    }

    /// The transport, for a connection that leaves HTTP (an upgrade): it no longer lingers.
    pub(crate) fn into_inner(mut self) -> T {
        self.inner.take().expect("present until drop")
    }

    fn io(&mut self) -> Pin<&mut T> {
        Pin::new(self.inner.as_mut().expect("present until drop"))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Drop for Linger<T> {
    fn drop(&mut self) {
        if !self.flag.0.load(Ordering::Relaxed) {
            return;
        }
        let (Some(io), Ok(rt)) = (self.inner.take(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        rt.spawn(discard(io));
    }
}

async fn discard<T: AsyncRead + AsyncWrite + Unpin>(mut io: T) {
    // The answer is out (hyper may have shut the writing side already; again is harmless):
    // the end of it tells the client that nothing more comes.
    let _ = io.shutdown().await;
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = LINGER_BYTES;
    let _ = tokio::time::timeout(LINGER_TIME, async {
        while left > 0 {
            match tokio::time::timeout(LINGER_IDLE, io.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
                _ => return,
            }
        }
    })
    .await;
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncRead for Linger<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().io().poll_read(cx, buf)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncWrite for Linger<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().io().poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().io().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| i.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().io().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().io().poll_shutdown(cx)
    }
}
