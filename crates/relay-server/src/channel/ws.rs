//! `/ws`: adapts one WebSocket to the hub, writing the WebSocket protocol directly on the TCP
//! stream that hyper hands over after the upgrade.
//!
//! Reading: a reader task reads whatever the socket has, handles every complete frame in it as
//! one hub batch ([`Hub::batch`]) and answers pings. Writing: the hub queues each frame in the
//! connection's [`SocketOut`] (one shared serialisation per message, plus a 2-10 byte header
//! per recipient); at the end of the batch that produced them, the queued frames of each
//! connection leave in one vectored, non-blocking write from the thread that ran the batch.
//! Only a socket whose kernel buffer is full hands its queue to its own writer task, which waits
//! until the socket is writable; that task also closes the socket with a stated reason when the
//! hub cuts the connection off.
//!
//! Acknowledged means on disk: each queued frame is tagged with the store's count of changes
//! queued when the hub queued it ([`Commits::queued`]) and is written only once the store's
//! writer has committed that many ([`Commits::durable`]). A batch waits for its commit (one
//! for all its frames, shared with every batch committed with it) before its flush, so the
//! `copy` of a message and its deliveries leave after the message is on disk; frames of one
//! connection leave in the order queued, so a later batch's never overtake an earlier one's.
//! A frame still held when a flush comes (another batch's, not yet committed) is left to the
//! connection's writer task, which writes it once the commit is done.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use relay_channels::{Admission, Commits, ConnId, Hub, Kill, Outbox, PushError};
use relay_wire::channel::MAX_FRAME_BYTES;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use super::ChannelFace;
use super::Live;
use crate::linger::Linger;
use crate::write_stall::WriteStall;
use relay_wire::websocket::{
    self, Masking, Parsed, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,
};

/// A socket that has not logged in by then is closed.
const LOGIN_DEADLINE: Duration = Duration::from_secs(60);
/// A socket that has sent no frame at all by then (pings aside) and is not logged in is closed.
/// The Moobius SDK logs in the moment a socket opens; when two of its reconnects race, it sends
/// both logins on the newer socket and may go on reading the older one, which then never hears
/// anything: closing it is what makes the SDK reconnect and log in on the socket it reads (see
/// docs/channels.md, "Reconnect races of the SDK").
const SILENT_DEADLINE: Duration = Duration::from_secs(10);
/// After one side of a connection ends, how long the other gets to finish.
const LINGER: Duration = Duration::from_secs(5);
/// How long a close frame may take to go out before the socket is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Frames offered to the kernel in one vectored write at most (two slices each).
const MAX_IOV_FRAMES: usize = 128;
/// Frames of a connection that count as being written rather than waiting (those one vectored
/// write offers): the outbound limit (`--channel-outbound-queue`) applies to the frames behind
/// them, so a client that reads steadily is not cut off while one large write is under way.
const IN_FLIGHT_FRAMES: usize = MAX_IOV_FRAMES;
/// Read buffer: allocated when a read starts, released when drained, so idle sockets hold none.
const READ_CHUNK: usize = 4 * 1024;
/// Bytes read in one go at most before they are handled.
const MAX_READ_BATCH: usize = 256 * 1024;
/// Recipients a batch must reach before half of them are written by the flusher thread.
const SHARED_FLUSH_MIN: usize = 64;
/// The close reason of a connection with frames that followed a change the store failed to
/// commit: they are not sent as if it were stored.
const NOT_STORED: &str = "the server could not store a change; frames after the last copy received were not stored and may be sent again";

pub(super) fn routes() -> Router<ChannelFace> {
    Router::new().route("/ws", get(upgrade))
}

fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

async fn upgrade(face: Live, mut req: Request) -> Response {
    let h = req.headers();
    if !has_token(h, CONNECTION, "upgrade") || !has_token(h, UPGRADE, "websocket") {
        return (
            StatusCode::BAD_REQUEST,
            "Connection header did not include 'upgrade' or Upgrade is not 'websocket'",
        )
            .into_response();
    }
    if h.get(SEC_WEBSOCKET_VERSION)
        .map(|v| v.as_bytes() != b"13")
        .unwrap_or(true)
    {
        return (
            StatusCode::UPGRADE_REQUIRED,
            [(SEC_WEBSOCKET_VERSION, "13")],
            "WebSocket version 13 required",
        )
            .into_response();
    }
    let Some(key) = h.get(SEC_WEBSOCKET_KEY) else {
        return (StatusCode::BAD_REQUEST, "Sec-WebSocket-Key header missing").into_response();
    };
    // The place is taken before the upgrade is answered, so that a limit of n lets n sockets
    // through however fast they come; a refusal is an HTTP answer any client can read.
    let Some(admission) = face.hub.admit() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(http::header::RETRY_AFTER, "1")],
            relay_channels::TOO_MANY_WAITING,
        )
            .into_response();
    };
    let accept = websocket::accept_key(key.as_bytes());
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return (StatusCode::UPGRADE_REQUIRED, "connection is not upgradable").into_response();
    };
    let hub = face.hub;
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => match upgraded.downcast::<TokioIo<Linger<WriteStall<TcpStream>>>>() {
                // The socket leaves the HTTP deadline behind: the channel face has its own.
                Ok(parts) => {
                    let socket = parts.io.into_inner().into_inner().into_inner();
                    serve_socket(hub, admission, socket, parts.read_buf).await
                }
                Err(upgraded) => {
                    match upgraded.downcast::<TokioIo<Linger<WriteStall<TlsStream<TcpStream>>>>>() {
                        // Over TLS the channel face gets a local TCP socket whose other end carries
                        // the TLS stream (what hyper had read past the handshake goes first). The
                        // write deadline stays on the TLS side, so that a client that reads nothing
                        // cannot hold the copy once the channel face has given up on it.
                        Ok(parts) => {
                            match crate::tls::bridge(parts.io.into_inner().into_inner()).await {
                                Ok(socket) => {
                                    serve_socket(hub, admission, socket, parts.read_buf).await
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "WebSocket over TLS: no local socket; closing")
                                }
                            }
                        }
                        Err(_) => tracing::error!(
                            "WebSocket upgrade on a transport other than TCP or TLS; closing"
                        ),
                    }
                }
            },
            Err(e) => tracing::debug!(error = %e, "WebSocket upgrade failed"),
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(CONNECTION, "upgrade")
        .header(UPGRADE, "websocket")
        .header(SEC_WEBSOCKET_ACCEPT, accept)
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn serve_socket(hub: Hub, admission: Admission, stream: TcpStream, pre_read: Bytes) {
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().ok();
    let (rd, wr) = stream.into_split();
    let out = Arc::new(SocketOut::new(
        wr,
        hub.config().outbound_queue.max(1),
        hub.commits().clone(),
    ));
    let handle = admission.connect(out.clone());
    let id = handle.id;
    let kill = handle.kill.clone();
    tracing::debug!(conn = id, peer = ?peer, "channel socket opened");
    metrics::gauge!("relay_channel_connections").increment(1.0);

    let reader = read_loop(&hub, id, rd, pre_read, &out, &kill);
    let writer = write_loop(&hub, id, &out, &kill);
    tokio::pin!(reader);
    tokio::pin!(writer);
    tokio::select! {
        () = &mut reader => { let _ = tokio::time::timeout(LINGER, &mut writer).await; }
        () = &mut writer => { let _ = tokio::time::timeout(LINGER, &mut reader).await; }
    }
    let (code, reason) = kill.reason().unwrap_or((1006, "connection lost".into()));
    tracing::debug!(conn = id, code, %reason, "channel socket closed");
    metrics::gauge!("relay_channel_connections").decrement(1.0);
    hub.disconnect(id);
}

// ---------------------------------------------------------------- reading

async fn read_loop(
    hub: &Hub,
    id: ConnId,
    rd: OwnedReadHalf,
    pre_read: Bytes,
    out: &SocketOut,
    kill: &Kill,
) {
    let mut buf: Vec<u8> = pre_read.to_vec();
    // A fragmented message being reassembled: its opcode and the payload so far.
    let mut message: Option<(u8, Vec<u8>)> = None;
    // The last read stopped at the batch limit rather than at the end of what the socket had.
    let mut full = false;
    loop {
        // Every complete frame buffered is handled in one batch: what they send is written
        // once the batch ends, one write per recipient for the whole burst.
        let mut used = 0;
        let need;
        let mut pong = false;
        let dirty = {
            let mut batch = hub.batch();
            loop {
                let (fin, opcode, payload, len) =
                    match websocket::parse(&mut buf[used..], MAX_FRAME_BYTES, Masking::Required) {
                        Parsed::Frame {
                            fin,
                            opcode,
                            payload,
                            len,
                        } => (fin, opcode, payload, len),
                        Parsed::Incomplete { need: n } => {
                            need = n;
                            break;
                        }
                        Parsed::Error(code, reason) => {
                            drop(batch);
                            if code == 1009 {
                                kill.fire(
                                    1009,
                                    format!("frame larger than {MAX_FRAME_BYTES} bytes"),
                                );
                            } else {
                                kill.fire(code, reason);
                            }
                            return;
                        }
                    };
                let payload = used + payload.start..used + payload.end;
                used += len;
                let whole: Option<(u8, std::borrow::Cow<'_, [u8]>)> =
                    match (opcode, message.as_mut()) {
                        (OP_TEXT | OP_BINARY, None) if fin => Some((opcode, buf[payload].into())),
                        (OP_TEXT | OP_BINARY, None) => {
                            message = Some((opcode, buf[payload].to_vec()));
                            None
                        }
                        (OP_CONT, Some((_, so_far))) => {
                            if so_far.len() + payload.len() > MAX_FRAME_BYTES {
                                drop(batch);
                                kill.fire(
                                    1009,
                                    format!("frame larger than {MAX_FRAME_BYTES} bytes"),
                                );
                                return;
                            }
                            so_far.extend_from_slice(&buf[payload]);
                            if fin {
                                message.take().map(|(op, m)| (op, m.into()))
                            } else {
                                None
                            }
                        }
                        (OP_TEXT | OP_BINARY | OP_CONT, _) => {
                            drop(batch);
                            kill.fire(1002, "protocol error: unexpected continuation state");
                            return;
                        }
                        (OP_PING, _) => {
                            if !out.push_control(OP_PONG, &buf[payload]) {
                                drop(batch);
                                kill.slow_consumer(id, out.cap);
                                return;
                            }
                            pong = true;
                            None
                        }
                        (OP_CLOSE, _) => {
                            drop(batch);
                            kill.fire(1000, "client closed");
                            return;
                        }
                        _ => None, // pong
                    };
                if whole.is_some() && !out.heard.load(Ordering::Relaxed) {
                    out.heard.store(true, Ordering::Relaxed);
                }
                match whole {
                    Some((OP_TEXT, data)) => match std::str::from_utf8(&data) {
                        Ok(text) => batch.on_frame(id, text),
                        Err(_) => {
                            drop(batch);
                            kill.fire(1007, "invalid UTF-8 in a text frame");
                            return;
                        }
                    },
                    Some(_) => hub.reject_frame(
                        id,
                        "binary frames are not supported: send one JSON object per text frame",
                    ),
                    None => {}
                }
            }
            batch.finish()
        };
        // What the batch queued leaves once the batch's changes are committed (one commit for
        // the whole batch, and for every other batch queued meanwhile).
        let commits = hub.commits();
        commits.wait_for(commits.queued()).await;
        flush_all(dirty);
        if pong {
            out.flush();
        }
        // Keep the unparsed tail; release a drained buffer so idle sockets hold no memory.
        if used == buf.len() {
            buf = Vec::new();
        } else if used > 0 {
            buf.drain(..used);
        }
        // `readable()` and `try_read_buf` never make a task yield, so a socket that always has
        // more to read would hold its worker thread forever, and with every worker held so
        // nobody polls the I/O driver: other sockets, timers and signals would all wait.
        if full {
            tokio::task::yield_now().await;
        } else {
            tokio::task::consume_budget().await;
        }
        if rd.readable().await.is_err() {
            kill.fire(1000, "client closed");
            return;
        }
        // Read all the socket has (up to a limit), so that a burst is handled as one batch.
        let mut want = need.unwrap_or(0).saturating_sub(buf.len()).max(READ_CHUNK);
        loop {
            if buf.capacity() - buf.len() < want / 2 {
                buf.reserve(want.max(buf.capacity()));
            }
            match rd.try_read_buf(&mut buf) {
                Ok(0) => {
                    kill.fire(1000, "client closed");
                    return;
                }
                Ok(_) if buf.len() == buf.capacity() && buf.len() < MAX_READ_BATCH => {
                    want = buf.len()
                }
                Ok(_) => {
                    full = buf.len() >= MAX_READ_BATCH;
                    break;
                }
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::Interrupted =>
                {
                    full = false;
                    break;
                }
                Err(e) => {
                    kill.fire(1002, format!("protocol error: {e}"));
                    return;
                }
            }
        }
    }
}

/// Writes what a batch queued. A large fan-out is shared with the flusher thread, so that the
/// writes (and the loopback or NIC work the kernel does inside them) run on two cores at once.
fn flush_all(mut dirty: Vec<Arc<dyn Outbox>>) {
    if dirty.len() >= SHARED_FLUSH_MIN {
        let theirs = dirty.split_off(dirty.len() / 2);
        if let Err(back) = flusher().send(theirs) {
            dirty.extend(back.0);
        }
    }
    for out in dirty {
        out.flush();
    }
}

/// The flusher thread's queue (started on first use).
fn flusher() -> &'static std::sync::mpsc::Sender<Vec<Arc<dyn Outbox>>> {
    static FLUSHER: std::sync::OnceLock<std::sync::mpsc::Sender<Vec<Arc<dyn Outbox>>>> =
        std::sync::OnceLock::new();
    FLUSHER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<Arc<dyn Outbox>>>();
        let spawned = std::thread::Builder::new().name("channel-flush".into()).spawn(move || {
            while let Ok(outs) = rx.recv() {
                for out in outs {
                    out.flush();
                }
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the channel flusher thread; flushing inline");
        }
        tx
    })
}

// ---------------------------------------------------------------- writing

/// One queued frame: its header and its payload (shared with the frame's other recipients).
struct Queued {
    head: [u8; 10],
    head_len: u8,
    body: Bytes,
    /// Written only once the store has committed this many changes (see [`Commits`]).
    tag: u64,
}

impl Queued {
    fn new(opcode: u8, body: Bytes, tag: u64) -> Self {
        let (head, head_len) = websocket::header(opcode, body.len());
        Queued {
            head,
            head_len,
            body,
            tag,
        }
    }

    fn len(&self) -> usize {
        self.head_len as usize + self.body.len()
    }
}

#[derive(Default)]
struct OutState {
    queue: VecDeque<Queued>,
    /// Bytes of the front frame already written.
    sent: usize,
    /// The hub queued frames since the last flush.
    flush_due: bool,
    /// The socket took less than offered: the writer task writes until the queue is empty.
    blocked: bool,
    /// A close queued behind the frames so far: (code, reason, when it happens, whether or not
    /// the socket took them by then).
    closing: Option<(u16, String, tokio::time::Instant)>,
    /// Closed (or closing right now): nothing more is queued.
    closed: bool,
    /// A write failed: the connection is gone.
    failed: bool,
}

/// A connection's outbound side: the queue the hub fills and the socket it is written to.
pub(super) struct SocketOut {
    wr: OwnedWriteHalf,
    state: Mutex<OutState>,
    wake: tokio::sync::Notify,
    cap: usize,
    /// The client has sent a data frame (see `SILENT_DEADLINE`).
    heard: AtomicBool,
    commits: Arc<Commits>,
}

enum Wrote {
    All,
    WouldBlock,
    Failed,
    /// What is left waits for a commit.
    Held,
    /// The next frame follows a change whose commit failed.
    Lost,
}

impl SocketOut {
    fn new(wr: OwnedWriteHalf, cap: usize, commits: Arc<Commits>) -> Self {
        SocketOut {
            wr,
            state: Mutex::new(OutState::default()),
            wake: tokio::sync::Notify::new(),
            cap,
            heard: AtomicBool::new(false),
            commits,
        }
    }

    fn lock(&self) -> MutexGuard<'_, OutState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a control frame (pong); false if the queue is already at the outbound limit (a
    /// client that sends pings and does not read its pongs is a slow consumer too).
    fn push_control(&self, opcode: u8, payload: &[u8]) -> bool {
        let mut s = self.lock();
        if s.queue.len() >= self.cap + IN_FLIGHT_FRAMES {
            return false;
        }
        if !s.closed && s.closing.is_none() {
            let tag = self.commits.queued();
            s.queue
                .push_back(Queued::new(opcode, Bytes::copy_from_slice(payload), tag));
        }
        true
    }

    /// Writes queued frames until the queue is empty, the socket would block or the next frame
    /// waits for a commit. Called with the state locked, so frames of one connection never
    /// interleave.
    fn write_queued(&self, s: &mut OutState) -> Wrote {
        while let Some(front) = s.queue.front() {
            let durable = self.commits.durable();
            // A frame half written has been released already.
            if s.sent == 0 && front.tag > durable {
                return Wrote::Held;
            }
            if s.sent == 0 && self.commits.lost(front.tag) {
                return Wrote::Lost;
            }
            let mut slices: [IoSlice<'_>; MAX_IOV_FRAMES * 2] =
                [IoSlice::new(&[]); MAX_IOV_FRAMES * 2];
            let mut n = 0;
            let mut skip = s.sent;
            let released = s
                .queue
                .iter()
                .take(MAX_IOV_FRAMES)
                .enumerate()
                .take_while(|(i, q)| *i == 0 || (q.tag <= durable && !self.commits.lost(q.tag)));
            for (_, q) in released {
                let head = &q.head[..q.head_len as usize];
                for part in [head, &q.body[..]] {
                    if skip >= part.len() {
                        skip -= part.len();
                        continue;
                    }
                    slices[n] = IoSlice::new(&part[skip..]);
                    skip = 0;
                    n += 1;
                }
            }
            match self.wr.try_write_vectored(&slices[..n]) {
                Ok(0) => return Wrote::Failed,
                Ok(mut written) => {
                    while written > 0 {
                        let left = s.queue.front().map(|q| q.len() - s.sent).unwrap_or(0);
                        if written >= left {
                            written -= left;
                            s.queue.pop_front();
                            s.sent = 0;
                        } else {
                            s.sent += written;
                            written = 0;
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Wrote::WouldBlock,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Wrote::Failed,
            }
        }
        if s.queue.capacity() > 64 {
            s.queue.shrink_to(16);
        }
        Wrote::All
    }

    /// Writes what is queued; if the socket cannot take it all (or broke), the writer task takes
    /// over.
    fn write_or_hand_over(&self, s: &mut OutState) {
        match self.write_queued(s) {
            Wrote::All => {}
            // The writer task waits for the socket, the commit, or closes the connection.
            Wrote::WouldBlock | Wrote::Held | Wrote::Lost => {
                s.blocked = true;
                self.wake.notify_one();
            }
            Wrote::Failed => {
                s.failed = true;
                s.closed = true;
                s.queue.clear();
                self.wake.notify_one();
            }
        }
    }
}

impl Outbox for SocketOut {
    fn push(&self, frame: &Bytes) -> Result<bool, PushError> {
        let mut s = self.lock();
        if s.closed || s.closing.is_some() {
            return Err(PushError::Closed);
        }
        if s.queue.len() >= self.cap + IN_FLIGHT_FRAMES {
            return Err(PushError::Full(self.cap));
        }
        let tag = self.commits.queued();
        s.queue.push_back(Queued::new(OP_TEXT, frame.clone(), tag));
        if s.blocked || s.flush_due {
            return Ok(false);
        }
        s.flush_due = true;
        Ok(true)
    }

    fn flush(&self) {
        let mut s = self.lock();
        s.flush_due = false;
        if s.blocked || s.closed || s.queue.is_empty() {
            return;
        }
        self.write_or_hand_over(&mut s);
    }

    fn close_after(&self, code: u16, reason: &str, after: Duration) {
        let mut s = self.lock();
        if s.closed || s.closing.is_some() {
            return;
        }
        s.closing = Some((code, reason.to_owned(), tokio::time::Instant::now() + after));
        // From now on the writer task writes what is left, then closes.
        s.blocked = true;
        self.wake.notify_one();
    }
}

enum Next {
    /// Nothing to do until the next wake-up.
    Idle,
    /// The socket is full: wait until it is writable (or until the close queued, if any, is due).
    Writable(Option<(u16, String, tokio::time::Instant)>),
    /// The next frame waits for a commit.
    Held,
    /// The next frame follows a change whose commit failed.
    Lost,
    /// The queue is written and a close was queued behind it.
    Close(u16, String, tokio::time::Instant),
    /// The socket is broken.
    Stop,
}

/// The deadlines of a socket that has not logged in: `SILENT_DEADLINE` for one that has sent
/// nothing, then `LOGIN_DEADLINE`.
struct Deadlines {
    opened: tokio::time::Instant,
    /// 0: the silent deadline is next; 1: the login deadline; 2: both passed.
    stage: u8,
}

impl Deadlines {
    fn new() -> Self {
        Deadlines {
            opened: tokio::time::Instant::now(),
            stage: 0,
        }
    }

    fn pending(&self) -> bool {
        self.stage < 2
    }

    fn next(&self) -> tokio::time::Instant {
        self.opened
            + if self.stage == 0 {
                SILENT_DEADLINE
            } else {
                LOGIN_DEADLINE
            }
    }

    /// At the deadline: the close reason if the socket is to be closed.
    fn passed(&mut self, hub: &Hub, id: ConnId, out: &SocketOut) -> Option<&'static str> {
        self.stage += 1;
        if hub.is_logged_in(id) {
            self.stage = 2;
            return None;
        }
        match self.stage {
            1 if !out.heard.load(Ordering::Relaxed) => {
                Some("nothing sent within 10 s of connecting: log in first")
            }
            2 => Some("no login within 60 s"),
            _ => None,
        }
    }
}

async fn write_loop(hub: &Hub, id: ConnId, out: &SocketOut, kill: &Kill) {
    let mut deadlines = Deadlines::new();
    let mut commits = out.commits.subscribe();
    loop {
        tokio::select! {
            biased;
            (code, reason) = kill.wait() => return close(out, kill, code, &reason).await,
            () = tokio::time::sleep_until(deadlines.next()), if deadlines.pending() => {
                if let Some(reason) = deadlines.passed(hub, id, out) {
                    return close(out, kill, 1008, reason).await;
                }
            }
            () = out.wake.notified() => {}
        }
        loop {
            let next = {
                let mut s = out.lock();
                if s.failed {
                    Next::Stop
                } else if s.blocked {
                    match out.write_queued(&mut s) {
                        Wrote::All => match s.closing.clone() {
                            Some((code, reason, after)) => Next::Close(code, reason, after),
                            None => {
                                s.blocked = false;
                                Next::Idle
                            }
                        },
                        Wrote::WouldBlock => Next::Writable(s.closing.clone()),
                        Wrote::Held => Next::Held,
                        Wrote::Lost => Next::Lost,
                        Wrote::Failed => {
                            s.failed = true;
                            s.closed = true;
                            s.queue.clear();
                            Next::Stop
                        }
                    }
                } else {
                    Next::Idle
                }
            };
            match next {
                Next::Idle => break,
                Next::Stop => return kill.fire(1006, "write failed: the connection is gone"),
                Next::Writable(closing) => {
                    // A socket the client stopped reading stays full; the hub's cut-off, the
                    // login deadline and a queued close must still win.
                    let close_at = closing.as_ref().map(|c| c.2);
                    tokio::select! {
                        biased;
                        (code, reason) = kill.wait() => return close(out, kill, code, &reason).await,
                        () = tokio::time::sleep_until(deadlines.next()), if deadlines.pending() => {
                            if let Some(reason) = deadlines.passed(hub, id, out) {
                                return close(out, kill, 1008, reason).await;
                            }
                        }
                        () = tokio::time::sleep_until(close_at.unwrap_or_else(tokio::time::Instant::now)), if close_at.is_some() => {
                            if let Some((code, reason, _)) = closing {
                                return close(out, kill, code, &reason).await;
                            }
                        }
                        // A close queued meanwhile.
                        () = out.wake.notified() => {}
                        r = out.wr.writable() => if r.is_err() { return },
                    }
                }
                Next::Lost => {
                    tracing::warn!(conn = id, "frames after a failed store commit; closing");
                    return close(out, kill, 1011, NOT_STORED).await;
                }
                Next::Held => {
                    tokio::select! {
                        biased;
                        (code, reason) = kill.wait() => return close(out, kill, code, &reason).await,
                        r = commits.changed() => if r.is_err() { return },
                    }
                }
                Next::Close(code, reason, at) => {
                    tokio::select! {
                        biased;
                        (code, reason) = kill.wait() => return close(out, kill, code, &reason).await,
                        () = tokio::time::sleep_until(at) => return close(out, kill, code, &reason).await,
                    }
                }
            }
        }
    }
}

/// Sends a close frame (after the frame being written, if one is half out; queued frames are
/// dropped) and gives it `CLOSE_TIMEOUT` to leave.
async fn close(out: &SocketOut, kill: &Kill, code: u16, reason: &str) {
    // Kept as the connection's reason (unless one is already), for the log line at its end.
    kill.fire(code, reason);
    {
        let mut s = out.lock();
        if s.failed {
            return;
        }
        s.closed = true;
        let keep = usize::from(s.sent > 0);
        s.queue.truncate(keep);
        // The close frame follows no change: it is never held.
        s.queue.push_back(Queued::new(
            OP_CLOSE,
            Bytes::from(websocket::close_payload(code, reason)),
            0,
        ));
        s.blocked = true;
    }
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        loop {
            let wrote = {
                let mut s = out.lock();
                out.write_queued(&mut s)
            };
            match wrote {
                Wrote::WouldBlock => {
                    if out.wr.writable().await.is_err() {
                        return;
                    }
                }
                Wrote::All | Wrote::Failed | Wrote::Held | Wrote::Lost => return,
            }
        }
    })
    .await;
}
