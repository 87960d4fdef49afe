//! One client connection: a reader that reassembles frames and collects passed descriptors, and
//! a writer that sends queued replies in order without ever blocking the instance.

use super::backlog::Backlog;
use super::Event;
use relay_wire::console::{build_reply, encode_json_frame, to_python_json, FrameDecoder};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use serde_json::{Map, Value};
use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use tokio::io::Interest;
use tokio::net::UnixStream;
use tokio::sync::{mpsc, watch};

enum Outgoing {
    Frame(Vec<u8>),
    Close,
}

/// The instance's handle on a connection: send replies, learn when the client is gone.
#[derive(Debug, Clone)]
pub struct Conn {
    pub id: u64,
    /// Peer address and connection number, for log lines.
    pub label: String,
    tx: mpsc::UnboundedSender<OutgoingBox>,
    closed: watch::Receiver<bool>,
    backlog: Arc<Backlog>,
}

/// Wrapper so `Conn` can derive Debug without exposing the enum.
struct OutgoingBox(Outgoing);

impl std::fmt::Debug for OutgoingBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outgoing")
    }
}

impl Conn {
    /// Queues a JSON reply; silently dropped if the client is gone.
    pub fn send(&self, reply: &Map<String, Value>) {
        let text = to_python_json(&Value::Object(reply.clone()));
        let frame = encode_json_frame(text.as_bytes());
        self.backlog.queued(frame.len());
        if self.tx.send(OutgoingBox(Outgoing::Frame(frame))).is_err() {
            self.backlog.writer_stopped();
        }
    }

    /// Closes the connection once queued replies are written.
    pub fn close(&self) {
        let _ = self.tx.send(OutgoingBox(Outgoing::Close));
    }

    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Resolves when the client has disconnected.
    pub async fn wait_closed(&self) {
        let mut rx = self.closed.clone();
        let _ = rx.wait_for(|c| *c).await;
    }
}

pub(super) fn spawn(
    stream: UnixStream,
    id: u64,
    label: String,
    limit: u64,
    events: mpsc::UnboundedSender<Event>,
) {
    let stream = Arc::new(stream);
    let reader_stream = stream.clone();
    let (tx, rx) = mpsc::unbounded_channel();
    let (closed_tx, closed_rx) = watch::channel(false);
    let backlog = Arc::new(Backlog::default());
    let conn = Conn {
        id,
        label,
        tx,
        closed: closed_rx,
        backlog: backlog.clone(),
    };
    tokio::spawn(async move {
        write_loop(stream.clone(), rx, &backlog).await;
        backlog.writer_stopped();
    });
    tokio::spawn(async move {
        read_loop(&reader_stream, &conn, limit, &events).await;
        let _ = closed_tx.send(true);
        let _ = events.send(Event::Closed { conn: id });
    });
}

async fn write_loop(
    stream: Arc<UnixStream>,
    mut rx: mpsc::UnboundedReceiver<OutgoingBox>,
    backlog: &Backlog,
) {
    while let Some(OutgoingBox(item)) = rx.recv().await {
        match item {
            Outgoing::Frame(bytes) => {
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    if stream.writable().await.is_err() {
                        return;
                    }
                    match stream.try_write(rest) {
                        Ok(n) => rest = &rest[n..],
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => return,
                    }
                }
                backlog.written(bytes.len());
            }
            Outgoing::Close => {
                // Half-close: the client reads the error reply, then EOF.
                let _ = rustix::net::shutdown(&*stream, rustix::net::Shutdown::Write);
                return;
            }
        }
    }
}

/// Reads one `recvmsg` worth of bytes, never more than `want`, and the descriptors attached.
fn recv_some(
    stream: &UnixStream,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> std::io::Result<usize> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = rustix::net::recvmsg(
        stream,
        &mut iov,
        &mut control,
        RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT,
    )?;
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = m {
            fds.extend(received);
        }
    }
    Ok(msg.bytes)
}

async fn read_loop(
    stream: &UnixStream,
    conn: &Conn,
    limit: u64,
    events: &mpsc::UnboundedSender<Event>,
) {
    let mut decoder = FrameDecoder::new(limit);
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending_fd: Option<OwnedFd> = None;
    let log = |s: String| {
        let _ = events.send(Event::Log(format!("{}: {s}", conn.label)));
    };
    loop {
        conn.backlog.room().await;
        // Reading at most what the current part needs keeps one read (and its descriptors)
        // inside one message.
        let want = decoder.wanted().clamp(1, buf.len());
        let mut fds = Vec::new();
        let read = stream.try_io(Interest::READABLE, || {
            recv_some(stream, &mut buf[..want], &mut fds)
        });
        let n = match read {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if stream.readable().await.is_err() {
                    return;
                }
                continue;
            }
            Err(e) => {
                log(format!("read: closed connection: {e}"));
                return;
            }
        };
        // At most one descriptor per message is used; extra ones are closed here.
        for fd in fds {
            if pending_fd.is_none() {
                pending_fd = Some(fd);
            }
        }
        if n == 0 {
            if decoder.at_boundary() {
                log("read: closed connection".into());
            } else {
                log("read: closed connection in the middle of a message".into());
            }
            return;
        }
        let payloads = match decoder.feed(&buf[..n]) {
            Ok(p) => p,
            Err(e) => {
                log(format!("read: {e}; closing connection"));
                conn.backlog.expect_reply();
                conn.send(&build_reply(&Map::new(), Some(&e.to_string()), None));
                conn.close();
                drain(stream).await;
                return;
            }
        };
        for payload in payloads {
            let fd = pending_fd.take();
            let text = match std::str::from_utf8(&payload) {
                Ok(t) => t,
                Err(e) => {
                    reject(
                        conn,
                        &log,
                        &format!("message is not valid UTF-8: {e}"),
                        true,
                    );
                    drain(stream).await;
                    return;
                }
            };
            match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(request)) => {
                    conn.backlog.expect_reply();
                    let _ = events.send(Event::Request {
                        conn: conn.clone(),
                        request,
                        fd,
                    });
                }
                Ok(other) => {
                    let kind = match other {
                        Value::Array(_) => "an array",
                        Value::String(_) => "a string",
                        Value::Number(_) => "a number",
                        Value::Bool(_) => "a boolean",
                        _ => "null",
                    };
                    reject(
                        conn,
                        &log,
                        &format!("message must be a JSON object, got {kind}"),
                        false,
                    );
                }
                Err(e) => {
                    reject(conn, &log, &format!("message is not valid JSON: {e}"), true);
                    drain(stream).await;
                    return;
                }
            }
        }
    }
}

fn reject(conn: &Conn, log: &dyn Fn(String), error: &str, close: bool) {
    log(format!(
        "read: {error}{}",
        if close { "; closing connection" } else { "" }
    ));
    conn.backlog.expect_reply();
    conn.send(&build_reply(&Map::new(), Some(error), None));
    if close {
        conn.close();
    }
}

/// Discards what the client still sends (for a while) before the socket is closed: closing a
/// Unix socket with unread data resets the connection, and the client would lose the error
/// reply it has not read yet.
async fn drain(stream: &UnixStream) {
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match tokio::time::timeout_at(deadline, stream.readable()).await {
            Ok(Ok(())) => match stream.try_read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            },
            _ => return,
        }
    }
}
