//! `/ws`: adapts one WebSocket to the hub. A reader feeds text frames to the hub; a writer
//! drains the connection's bounded queue, coalescing queued frames into one flush, and closes
//! the socket with a stated reason when the hub cuts the connection off.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use relay_channels::{Hub, Outgoing};
use relay_wire::channel::MAX_FRAME_BYTES;

use super::ChannelFace;

/// A socket that has not logged in by then is closed.
const LOGIN_DEADLINE: Duration = Duration::from_secs(60);
/// After one side of a connection ends, how long the other gets to finish.
const LINGER: Duration = Duration::from_secs(5);
/// How long a close frame may take to go out before the socket is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// A socket flushed less than this long ago counts as busy.
const BUSY_WINDOW: Duration = Duration::from_millis(2);
/// How many times a busy socket's writer lets other tasks run before flushing.
const BUSY_YIELDS: usize = 8;
/// Frames written per flush at most.
const MAX_COALESCE: usize = 256;

pub fn routes() -> Router<ChannelFace> {
    Router::new().route("/ws", get(upgrade))
}

async fn upgrade(State(face): State<ChannelFace>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        // Small buffers keep idle sockets cheap; they grow only while a socket is busy.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(16 * 1024)
        .on_upgrade(move |socket| serve_socket(face.hub, socket))
}

async fn serve_socket(hub: Hub, socket: WebSocket) {
    let mut handle = hub.connect();
    let id = handle.id;
    let kill = handle.kill.clone();
    let (mut sink, mut stream) = socket.split();

    let reader = async {
        while let Some(msg) = stream.next().await {
            match msg {
                Ok(Message::Text(t)) => hub.on_frame(id, t.as_str()),
                Ok(Message::Binary(_)) => hub.reject_frame(id, "binary frames are not supported: send one JSON object per text frame"),
                Ok(Message::Close(_)) => break,
                Ok(_) => {}
                Err(e) => {
                    let text = e.to_string();
                    if text.contains("too long") || text.contains("Space limit") || text.contains("size") {
                        kill.fire(1009, format!("frame larger than {MAX_FRAME_BYTES} bytes"));
                    } else {
                        kill.fire(1002, format!("protocol error: {text}"));
                    }
                    return;
                }
            }
        }
        kill.fire(1000, "client closed");
    };

    let writer = async {
        let login_deadline = tokio::time::sleep(LOGIN_DEADLINE);
        tokio::pin!(login_deadline);
        let mut login_checked = false;
        let mut last_flush: Option<std::time::Instant> = None;
        loop {
            let flow = tokio::select! {
                biased;
                (code, reason) = kill.wait() => Flow::Close(code, reason, Duration::ZERO),
                () = &mut login_deadline, if !login_checked => {
                    login_checked = true;
                    if hub.is_logged_in(id) { Flow::Continue } else { Flow::Close(1008, "no login within 60 s".into(), Duration::ZERO) }
                }
                out = handle.rx.recv() => {
                    // A socket the client stopped reading blocks the write; the hub's cut-off
                    // must still win, so the batch races the kill signal.
                    tokio::select! {
                        biased;
                        (code, reason) = kill.wait() => Flow::Close(code, reason, Duration::ZERO),
                        flow = write_batch(&mut sink, &mut handle.rx, out, &mut last_flush) => flow,
                    }
                }
            };
            match flow {
                Flow::Continue => {}
                Flow::Stop => return,
                Flow::Close(code, reason, after) => {
                    tokio::time::sleep(after).await;
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, close(&mut sink, code, &reason)).await;
                    return;
                }
            }
        }
    };

    tokio::pin!(reader);
    tokio::pin!(writer);
    tokio::select! {
        () = &mut reader => { let _ = tokio::time::timeout(LINGER, &mut writer).await; }
        () = &mut writer => { let _ = tokio::time::timeout(LINGER, &mut reader).await; }
    }
    hub.disconnect(id);
}

enum Flow {
    Continue,
    Stop,
    Close(u16, String, Duration),
}

/// Writes `first` and whatever else is already queued (up to a limit), then flushes once.
async fn write_batch<S>(sink: &mut S, rx: &mut tokio::sync::mpsc::Receiver<Outgoing>, first: Option<Outgoing>, last_flush: &mut Option<std::time::Instant>) -> Flow
where
    S: futures_util::Sink<Message, Error = axum::Error> + Unpin,
{
    // A socket that was written to moments ago is busy: wait a little so one flush (one
    // syscall) carries several frames. An idle socket's first frame goes out at once.
    if last_flush.is_some_and(|t| t.elapsed() < BUSY_WINDOW) {
        for _ in 0..BUSY_YIELDS {
            tokio::task::yield_now().await;
        }
    } else {
        tokio::task::yield_now().await;
    }
    let mut next = first;
    let mut fed = 0;
    loop {
        match next {
            Some(Outgoing::Frame(bytes)) => {
                if let Ok(text) = Utf8Bytes::try_from(bytes) {
                    if sink.feed(Message::Text(text)).await.is_err() {
                        return Flow::Stop;
                    }
                    fed += 1;
                }
            }
            Some(Outgoing::Close { code, reason, after }) => {
                let _ = sink.flush().await;
                return Flow::Close(code, reason, after);
            }
            None => {
                let _ = sink.flush().await;
                return Flow::Stop;
            }
        }
        if fed >= MAX_COALESCE {
            break;
        }
        match rx.try_recv() {
            Ok(o) => next = Some(o),
            Err(_) => break,
        }
    }
    if sink.flush().await.is_err() {
        return Flow::Stop;
    }
    *last_flush = Some(std::time::Instant::now());
    Flow::Continue
}

async fn close<S>(sink: &mut S, code: u16, reason: &str) -> Result<(), axum::Error>
where
    S: futures_util::Sink<Message, Error = axum::Error> + Unpin,
{
    // Close reasons are limited to 123 bytes by the protocol.
    let mut r = reason.to_owned();
    while r.len() > 123 {
        r.pop();
    }
    sink.send(Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from(r) }))).await?;
    sink.close().await
}
