//! The reconnecting WebSocket client.
//!
//! One driver task owns the socket. Frames given to the client go into a queue that outlives
//! sockets: a frame leaves the queue only when the server acknowledges it with a `copy`, so a
//! frame written to a socket that then died is sent again, in its original order, after the next
//! login (at-least-once). Every socket starts with the login, so nothing is processed under a
//! missing identity (unlike the Python SDK, whose login can land behind queued frames).

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use relay_wire::channel::inbound::ResumeFrom;
use relay_wire::channel::requests::{self, RequestError, UpdateContent};
use relay_wire::channel::types::{ChannelInfo, ClickArgument, MessageContent};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::http::Uri;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::Message;

use super::error::ClientError;
use super::frame::ServerFrame;

/// Who to log in as on every socket.
#[derive(Debug, Clone)]
pub enum Login {
    /// Log in as a user (a user login frame).
    User {
        /// The user's access token, as from
        /// [`ChannelHttp::sign_in`](super::http::ChannelHttp::sign_in).
        access_token: String,
    },
    /// Log in as a service (a service login frame).
    Service {
        /// The access token of the user that owns the service.
        access_token: String,
        /// The service to act as (the `service_id` from creating it).
        service_id: String,
    },
}

/// Where and how a [`ChannelClient`] connects; [`ClientConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server's WebSocket URL, `ws://host:port/ws`.
    pub url: String,
    /// The identity every socket logs in as, first thing after connecting.
    pub login: Login,
    /// How often to send a heartbeat (the server answers each with a copy).
    pub heartbeat: Duration,
    /// Reconnect when no frame at all arrives for this long; keep it above `heartbeat`.
    pub receive_timeout: Duration,
    /// How long a connection and then its login's answer may take.
    pub connect_timeout: Duration,
    /// How long writing one frame (login, heartbeat, queued frame) to the socket may take before it
    /// counts as dead.
    pub send_timeout: Duration,
    /// Reconnect delays grow from `backoff_min` to `backoff_max`, doubling.
    pub backoff_min: Duration,
    /// The longest delay between reconnect attempts.
    pub backoff_max: Duration,
}

impl ClientConfig {
    /// A config for `url` and `login` with defaults: heartbeat 30 s, receive timeout 75 s, connect
    /// timeout 10 s, send timeout 16 s, backoff 100 ms to 10 s.
    pub fn new(url: impl Into<String>, login: Login) -> Self {
        Self {
            url: url.into(),
            login,
            heartbeat: Duration::from_secs(30),
            receive_timeout: Duration::from_secs(75),
            connect_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(16),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
        }
    }
}

/// Connection state, observable through [`ChannelClient::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Not logged in yet: connecting, logging in, or waiting to reconnect.
    Connecting,
    /// Connected and logged in; the number counts logins so far (1 = first, 2 = after one
    /// reconnect, …).
    LoggedIn(u64),
    /// The last login was refused; the reason is the server's.
    LoginRefused(String),
    /// The URL can never work (wss:// in this client without TLS, another scheme, no host), so
    /// the client has stopped instead of retrying; the reason names the URL.
    Unusable(String),
    /// The client was closed and its driver has stopped.
    Closed,
}

/// Called for every received frame; an error is logged and the client carries on.
pub type Handler =
    Box<dyn FnMut(ServerFrame) -> Result<(), Box<dyn std::error::Error + Send + Sync>> + Send>;

enum Cmd {
    Send(String, Value),
    Close,
}

/// A reconnecting channel client. Dropping it stops the driver task.
pub struct ChannelClient {
    cmd: mpsc::UnboundedSender<Cmd>,
    status: watch::Receiver<Status>,
    task: tokio::task::JoinHandle<()>,
}

/// A checked frame, ready to send or to inspect (`dry_run`).
pub struct Pending<'a> {
    client: &'a ChannelClient,
    frame: Result<Value, RequestError>,
}

impl Pending<'_> {
    /// The frame that `send` would send, without sending it.
    pub fn dry_run(self) -> Result<Value, ClientError> {
        Ok(self.frame?)
    }

    /// Queues the frame; returns its `request_id`. Delivery survives reconnects.
    pub fn send(self) -> Result<String, ClientError> {
        let frame = self.frame?;
        self.client.send_frame(frame)
    }
}

fn new_request_id() -> String {
    // The request id only has to be unique per client; time plus a counter is enough and
    // avoids a UUID dependency.
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{t:x}-{}-{n:x}", std::process::id())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl ChannelClient {
    /// Starts connecting (retrying with backoff until it succeeds) and returns at once.
    pub fn connect(cfg: ClientConfig, handler: Handler) -> Self {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (status_tx, status_rx) = watch::channel(Status::Connecting);
        let task = tokio::spawn(drive(cfg, handler, cmd_rx, status_tx));
        Self {
            cmd: cmd_tx,
            status: status_rx,
            task,
        }
    }

    /// The current connection state.
    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Waits until the client is logged in for at least the `n`th time; a refused login ends
    /// the wait with [`ClientError::LoginRefused`].
    pub async fn wait_logged_in(&self, n: u64, within: Duration) -> Result<(), ClientError> {
        let mut rx = self.status.clone();
        timeout(within, async {
            loop {
                match &*rx.borrow_and_update() {
                    Status::LoggedIn(k) if *k >= n => return Ok(()),
                    Status::LoginRefused(reason) => {
                        return Err(ClientError::LoginRefused(reason.clone()))
                    }
                    Status::Unusable(reason) => {
                        return Err(ClientError::UnusableUrl(reason.clone()))
                    }
                    Status::Closed => return Err(ClientError::Closed),
                    _ => {}
                }
                if rx.changed().await.is_err() {
                    return Err(ClientError::Closed);
                }
            }
        })
        .await
        .map_err(|_| ClientError::Timeout(within))?
    }

    /// Queues any frame (it gets a `request_id` if it has none); returns the request id.
    pub fn send_frame(&self, mut frame: Value) -> Result<String, ClientError> {
        let rid = match frame.get("request_id").and_then(Value::as_str) {
            Some(r) => r.to_owned(),
            None => {
                let r = new_request_id();
                frame["request_id"] = r.clone().into();
                r
            }
        };
        self.cmd
            .send(Cmd::Send(rid.clone(), frame))
            .map_err(|_| ClientError::Closed)?;
        Ok(rid)
    }

    fn pending(&self, frame: Result<Value, RequestError>) -> Pending<'_> {
        Pending {
            client: self,
            frame,
        }
    }

    /// A `heartbeat` frame (the server answers it with a `copy`).
    pub fn heartbeat(&self) -> Pending<'_> {
        self.pending(Ok(requests::heartbeat(&new_request_id())))
    }
    /// A `join_channel` action for `channel_id`.
    pub fn join_channel(&self, channel_id: &str) -> Pending<'_> {
        self.pending(requests::simple_action(
            &new_request_id(),
            "join_channel",
            channel_id,
        ))
    }
    /// A `leave_channel` action for `channel_id`.
    pub fn leave_channel(&self, channel_id: &str) -> Pending<'_> {
        self.pending(requests::simple_action(
            &new_request_id(),
            "leave_channel",
            channel_id,
        ))
    }
    /// A `refresh` action, asking the service (and the UI cache) to resend `channel_id`'s state.
    pub fn refresh(&self, channel_id: &str) -> Pending<'_> {
        self.pending(requests::simple_action(
            &new_request_id(),
            "refresh",
            channel_id,
        ))
    }
    /// A `button_click` action on `button_id` (with `bottom_button_id` and `arguments`) in
    /// `channel_id`.
    pub fn button_click(
        &self,
        channel_id: &str,
        button_id: &str,
        bottom_button_id: &str,
        arguments: &[ClickArgument],
    ) -> Pending<'_> {
        self.pending(requests::button_click(
            &new_request_id(),
            channel_id,
            button_id,
            bottom_button_id,
            arguments,
        ))
    }
    /// A `menu_item_click` action on `menu_item_id` of the message `message_id` in `channel_id`.
    #[allow(clippy::too_many_arguments)]
    pub fn menu_item_click(
        &self,
        channel_id: &str,
        menu_item_id: &str,
        message_id: &str,
        message_subtype: &str,
        message_content: &MessageContent,
        bottom_button_id: &str,
        arguments: &[ClickArgument],
    ) -> Pending<'_> {
        self.pending(requests::menu_item_click(
            &new_request_id(),
            channel_id,
            menu_item_id,
            message_id,
            message_subtype,
            message_content,
            bottom_button_id,
            arguments,
        ))
    }
    /// A user's message (to the channel's service; `recipients` is a user group or `"service"`).
    pub fn message_up(
        &self,
        channel_id: &str,
        recipients: &str,
        subtype: &str,
        content: &MessageContent,
    ) -> Pending<'_> {
        self.pending(requests::message(
            &new_request_id(),
            now_ms(),
            channel_id,
            recipients,
            subtype,
            content,
            None,
        ))
    }
    /// A service's message to the members in the `recipients` group, shown as from `sender`.
    pub fn message_down(
        &self,
        channel_id: &str,
        recipients: &str,
        subtype: &str,
        content: &MessageContent,
        sender: &str,
    ) -> Pending<'_> {
        self.pending(requests::message(
            &new_request_id(),
            now_ms(),
            channel_id,
            recipients,
            subtype,
            content,
            Some(sender),
        ))
    }
    /// Characters, buttons, menu, style or canvas for the members in `recipients`.
    pub fn update(
        &self,
        channel_id: &str,
        recipients: &str,
        content: &UpdateContent,
    ) -> Pending<'_> {
        self.pending(requests::update(
            &new_request_id(),
            channel_id,
            recipients,
            content,
        ))
    }
    /// An `update_channel_info` frame setting the channel's info from `info`.
    pub fn update_channel_info(&self, info: &ChannelInfo) -> Pending<'_> {
        self.pending(requests::channel_info(&new_request_id(), info))
    }
    /// Asks for what this identity missed in `channel_id` from `from` on (Relay extension); the
    /// copy's `context` says where the log ends (`next_offset`).
    pub fn resume(&self, channel_id: &str, epoch: Option<&str>, from: ResumeFrom) -> Pending<'_> {
        self.pending(requests::resume(&new_request_id(), channel_id, epoch, from))
    }

    /// Closes the socket and stops the driver.
    pub async fn close(mut self) {
        let _ = self.cmd.send(Cmd::Close);
        let _ = timeout(Duration::from_secs(5), &mut self.task).await;
    }
}

impl Drop for ChannelClient {
    fn drop(&mut self) {
        let _ = self.cmd.send(Cmd::Close);
    }
}

/// Frames waiting to go out, and frames sent but not yet acknowledged.
#[derive(Default)]
struct Outbox {
    queued: VecDeque<(String, String)>,
    unacked: VecDeque<(String, String)>,
}

impl Outbox {
    /// After a reconnect everything unacknowledged goes out again first, in order.
    fn requeue(&mut self) {
        while let Some(f) = self.unacked.pop_back() {
            self.queued.push_front(f);
        }
    }
    fn ack(&mut self, rid: &str) {
        if let Some(i) = self.unacked.iter().position(|(r, _)| r == rid) {
            self.unacked.remove(i);
        }
    }
}

enum End {
    Reconnect,
    Closed,
}

async fn drive(
    cfg: ClientConfig,
    mut handler: Handler,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    status: watch::Sender<Status>,
) {
    let mut outbox = Outbox::default();
    let mut backoff = cfg.backoff_min;
    let mut logins = 0u64;
    let mut failures = 0u64;
    if let Some(why) = unusable(&cfg.url) {
        let reason = format!("{}: {why}", cfg.url);
        tracing::error!(%reason, "cannot use the channel server URL");
        let _ = status.send(Status::Unusable(reason));
        return;
    }
    loop {
        let _ = status.send(Status::Connecting);
        let connected = match timeout(
            cfg.connect_timeout,
            tokio_tungstenite::connect_async(cfg.url.as_str()),
        )
        .await
        {
            Ok(Ok((ws, _))) => Ok(ws),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no connection within {:?}", cfg.connect_timeout)),
        };
        let ws = match connected {
            Ok(ws) => ws,
            Err(why) => {
                // Said once per run of failures, so a server that stays away does not flood
                // the log.
                if failures == 0 {
                    tracing::warn!(url = %cfg.url, error = %why, "cannot connect to the channel server; retrying");
                } else {
                    tracing::debug!(error = %why, "channel connect failed");
                }
                failures += 1;
                if wait_or_close(&mut cmds, &mut outbox, backoff).await {
                    break;
                }
                backoff = (backoff * 2).min(cfg.backoff_max);
                continue;
            }
        };
        failures = 0;
        outbox.requeue();
        let before = logins;
        match session(
            &cfg,
            ws,
            &mut handler,
            &mut cmds,
            &mut outbox,
            &status,
            &mut logins,
        )
        .await
        {
            End::Closed => break,
            End::Reconnect => {
                // Only a login makes a connection healthy: a server that accepts sockets and
                // drops them (or refuses the login) must see the delay grow.
                if logins > before {
                    backoff = cfg.backoff_min;
                }
                if wait_or_close(&mut cmds, &mut outbox, backoff).await {
                    break;
                }
                backoff = (backoff * 2).min(cfg.backoff_max);
            }
        }
    }
    let _ = status.send(Status::Closed);
}

/// Why `url` can never work, if it cannot. Checked before connecting: the connector looks at
/// the scheme only once a TCP connection is made, so while nothing listens it would report a
/// refused connection, and the client would retry a URL it can never use.
fn unusable(url: &str) -> Option<String> {
    let uri: Uri = match url.parse() {
        Ok(u) => u,
        Err(e) => return Some(format!("not a URL ({e})")),
    };
    match uri.scheme_str() {
        Some("ws") => {}
        // tokio-tungstenite is built without a TLS feature here.
        Some("wss") => {
            return Some("wss:// is not supported (this client has no TLS); use a ws:// URL".into())
        }
        _ => return Some("only ws:// URLs are supported".into()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Some("no host".into());
    }
    None
}

/// Sleeps `delay` while still accepting frames into the queue; true if asked to close.
async fn wait_or_close(
    cmds: &mut mpsc::UnboundedReceiver<Cmd>,
    outbox: &mut Outbox,
    delay: Duration,
) -> bool {
    let until = Instant::now() + delay;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(until) => return false,
            c = cmds.recv() => match c {
                Some(Cmd::Send(r, f)) => outbox.queued.push_back((r, f.to_string())),
                Some(Cmd::Close) | None => return true,
            }
        }
    }
}

/// What woke a session up.
enum Event {
    Command(Option<Cmd>),
    Heartbeat,
    LoginUnanswered,
    Silent,
    Received(Option<Result<Message, WsError>>),
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn session(
    cfg: &ClientConfig,
    ws: Socket,
    handler: &mut Handler,
    cmds: &mut mpsc::UnboundedReceiver<Cmd>,
    outbox: &mut Outbox,
    status: &watch::Sender<Status>,
    logins: &mut u64,
) -> End {
    let (mut sink, mut stream) = ws.split();
    let login_rid = new_request_id();
    let login = match &cfg.login {
        Login::User { access_token } => requests::user_login(&login_rid, access_token),
        Login::Service {
            access_token,
            service_id,
        } => requests::service_login(&login_rid, access_token, service_id),
    };
    let login = match login {
        Ok(l) => l,
        Err(e) => {
            let _ = status.send(Status::LoginRefused(e.to_string()));
            return End::Closed;
        }
    };
    if !matches!(
        timeout(
            cfg.send_timeout,
            sink.send(Message::text(login.to_string()))
        )
        .await,
        Ok(Ok(()))
    ) {
        return End::Reconnect;
    }
    let mut logged_in = false;
    // The login's answer is a network wait like any other: a server that keeps the socket
    // (even answering heartbeats) but never answers the login is left.
    let login_deadline = Instant::now() + cfg.connect_timeout;
    let mut heartbeat = tokio::time::interval_at(Instant::now() + cfg.heartbeat, cfg.heartbeat);
    // How much longer the client may listen without hearing anything. Only time spent waiting
    // counts: while the client writes a backlog, encodes a frame or runs its handler, what the
    // server sends stays unread, and a server that reads a long backlog slowly answers only once
    // it has read it. Counted across passes of the loop, not per wait: every pass (a heartbeat
    // sent, a frame queued) would start a per-wait timeout afresh, and a silent server would
    // never be noticed.
    let mut patience = cfg.receive_timeout;
    loop {
        if logged_in {
            while let Some((rid, text)) = outbox.queued.pop_front() {
                match timeout(cfg.send_timeout, sink.send(Message::text(text.clone()))).await {
                    Ok(Ok(())) => outbox.unacked.push_back((rid, text)),
                    _ => {
                        outbox.queued.push_front((rid, text));
                        return End::Reconnect;
                    }
                }
            }
        }
        let listening = Instant::now();
        let event = tokio::select! {
            c = cmds.recv() => Event::Command(c),
            _ = heartbeat.tick() => Event::Heartbeat,
            () = tokio::time::sleep_until(login_deadline), if !logged_in => Event::LoginUnanswered,
            () = tokio::time::sleep_until(listening + patience) => Event::Silent,
            next = stream.next() => Event::Received(next),
        };
        patience = match event {
            Event::Received(_) => cfg.receive_timeout,
            _ => patience.saturating_sub(listening.elapsed()),
        };
        match event {
            Event::Command(Some(Cmd::Send(r, f))) => outbox.queued.push_back((r, f.to_string())),
            Event::Command(Some(Cmd::Close) | None) => {
                let _ = timeout(Duration::from_secs(2), sink.close()).await;
                return End::Closed;
            }
            Event::Heartbeat => {
                let hb = requests::heartbeat(&new_request_id()).to_string();
                if !matches!(
                    timeout(cfg.send_timeout, sink.send(Message::text(hb))).await,
                    Ok(Ok(()))
                ) {
                    return End::Reconnect;
                }
            }
            Event::LoginUnanswered => {
                tracing::warn!(
                    "no answer to the login in {:?}; reconnecting",
                    cfg.connect_timeout
                );
                return End::Reconnect;
            }
            Event::Silent => {
                tracing::warn!(
                    "no frame from the server in {:?}; reconnecting",
                    cfg.receive_timeout
                );
                return End::Reconnect;
            }
            Event::Received(next) => {
                let msg = match next {
                    None => return End::Reconnect,
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "channel socket failed");
                        return End::Reconnect;
                    }
                    Some(Ok(m)) => m,
                };
                let text = match msg {
                    Message::Text(t) => t,
                    Message::Close(frame) => {
                        tracing::info!(?frame, "server closed the channel socket");
                        return End::Reconnect;
                    }
                    _ => continue,
                };
                let Some(frame) = ServerFrame::parse(text.as_str()) else {
                    tracing::warn!("ignoring a frame that is not a JSON object with a type");
                    continue;
                };
                if let Some((rid, ok)) = frame.ack() {
                    if rid == login_rid {
                        if ok {
                            logged_in = true;
                            *logins += 1;
                            let _ = status.send(Status::LoggedIn(*logins));
                        } else {
                            let reason = frame
                                .body
                                .pointer("/context/message")
                                .and_then(Value::as_str)
                                .unwrap_or("refused")
                                .to_owned();
                            tracing::warn!(%reason, "login refused");
                            let _ = status.send(Status::LoginRefused(reason));
                        }
                    } else {
                        outbox.ack(rid);
                    }
                }
                if let Err(e) = handler(frame) {
                    tracing::warn!(error = %e, "channel message handler failed");
                }
            }
        }
    }
}
