//! Live connections: registration, logins ("newest login wins"), the pre-login buffer, inbound
//! rate limiting and the bounded outbound queues.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use relay_wire::channel::inbound::{self, ClientMessage, Inbound};
use relay_wire::channel::{outbound, MAX_FRAME_BYTES};
use relay_wire::websocket::Frame;
use serde_json::{Map, Value};
use tokio::sync::Notify;

use super::prelogin::{NotKept, Pending, Prelogin};
use super::{FxMap, Hub, State};

pub type ConnId = u64;

/// Delay before closing a socket whose login failed, so a client that re-logs in on every
/// failed copy cannot spin.
pub(super) const FAILED_LOGIN_CLOSE_DELAY: Duration = Duration::from_millis(1500);
/// The close reason of every socket once the hub is closed.
pub(crate) const SHUTTING_DOWN: &str = "the server is shutting down";
/// The close reason of a socket opened while as many sockets as allowed wait for their login.
pub const TOO_MANY_WAITING: &str = "too many connections waiting for a login; try again later";
/// The longest request id, type and reason a `copy` echoes. Only a client's own absurd strings
/// are longer; cutting them keeps a copy within one frame (even at six bytes per character once
/// JSON-escaped), so that it still reaches the client.
const MAX_ECHOED_ID: usize = 64 * 1024;
const MAX_ECHOED_TYPE: usize = 1024;
const MAX_ECHOED_REASON: usize = 4096;

/// Why a frame could not be queued on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The connection's outbound queue holds this many frames already: it is too slow.
    Full(usize),
    /// The connection is closing or closed.
    Closed,
}

/// The transport's end of a connection's outbound queue. The hub queues frames under its lock
/// with [`Outbox::push`] (which must never block or write), and calls [`Outbox::flush`] once per
/// batch of inbound frames, after releasing the lock, on every outbox that got something. The
/// transport decides how a flush writes (the WebSocket transport writes every queued frame of
/// the connection in one vectored syscall, without waking any task while the socket keeps up).
pub trait Outbox: Send + Sync + 'static {
    /// Queues one text frame (valid UTF-8 JSON, encoded once as a WebSocket frame and shared by
    /// every recipient: do not copy it).
    /// `Ok(true)` when the outbox needs a [`flush`](Outbox::flush) that is not already due.
    fn push(&self, frame: &Frame) -> Result<bool, PushError>;
    /// Writes what is queued, as far as the socket takes it now.
    fn flush(&self);
    /// Closes the connection with `code` and `reason` once `after` has passed, after the frames
    /// queued so far (those the socket has not taken by then are dropped). Later frames are
    /// dropped.
    fn close_after(&self, code: u16, reason: &str, after: Duration);
}

/// A cut-off signal that bypasses the (possibly full) outbound queue.
#[derive(Debug, Default)]
pub struct Kill {
    notify: Notify,
    reason: Mutex<Option<(u16, String)>>,
}

impl Kill {
    /// Asks the transport to close the connection (first reason wins).
    pub fn fire(&self, code: u16, reason: impl Into<String>) {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if r.is_none() {
            *r = Some((code, reason.into()));
            self.notify.notify_one();
        }
    }

    /// Closes a connection whose outbound queue of `cap` frames is full (said in the log too),
    /// rather than letting it grow the server's memory.
    pub fn slow_consumer(&self, conn: ConnId, cap: usize) {
        tracing::warn!(conn, "slow consumer: {cap} frames waiting; disconnecting");
        metrics::counter!("relay_channel_slow_consumer_disconnects_total").increment(1);
        self.fire(
            1008,
            format!("slow consumer: {cap} frames waiting to be sent; disconnecting"),
        );
    }

    /// Why the connection is being closed, once it is: the close code and reason.
    pub fn reason(&self) -> Option<(u16, String)> {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Resolves once the hub wants this connection closed, with the close code and reason.
    pub async fn wait(&self) -> (u16, String) {
        loop {
            if let Some(r) = self
                .reason
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
            {
                return r;
            }
            self.notify.notified().await;
        }
    }
}

/// A transport's end of a connection.
pub struct ConnHandle {
    pub id: ConnId,
    pub kill: Arc<Kill>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Identity {
    Service { service_id: String, owner: String },
    User { user_id: String },
}

pub(crate) struct Conn {
    out: Arc<dyn Outbox>,
    pub kill: Arc<Kill>,
    pub identity: Option<Identity>,
    /// Frames sent before the login.
    pending: Pending,
    /// Counted among the sockets waiting for a login (until its first login succeeds).
    awaiting_login: bool,
    /// A login failed: the socket is being closed, and no later login on it counts.
    login_failed: bool,
    tokens: f64,
    refilled: Instant,
}

#[derive(Default)]
pub(crate) struct Registry {
    pub conns: FxMap<ConnId, Conn>,
    pub by_service: FxMap<String, ConnId>,
    pub by_user: FxMap<String, ConnId>,
    /// Upload keys issued and not yet used, with when they were issued (hub clock, ms).
    pub uploads: HashMap<String, i64>,
    /// Outboxes that got frames since the last flush (flushed once the hub lock is released).
    pub dirty: Vec<Arc<dyn Outbox>>,
    /// Changes whenever a user or service id starts or stops naming a connection, so that a
    /// recipient list's cached connections know when they are stale.
    pub generation: u64,
    /// What sockets that have not logged in hold, all together.
    pub prelogin: Prelogin,
}

/// A recipient list's connections as of one registry generation. Weak, so that a cached list
/// never keeps a closed connection's socket open.
pub(crate) type CachedTargets = Mutex<Option<(u64, Vec<(ConnId, std::sync::Weak<dyn Outbox>)>)>>;

impl Registry {
    /// Drops every socket's pre-login frames: no frame is handled once the hub is closed.
    pub(crate) fn drop_all_pending(&mut self) {
        for conn in self.conns.values_mut() {
            self.prelogin.clear(&mut conn.pending);
        }
    }

    /// Keeps a frame a socket sent before its login. When the server's budget is spent, the
    /// frames that have expired in every socket are dropped first (silent sockets would keep
    /// theirs until they close).
    pub(crate) fn keep_pending(&mut self, id: ConnId, raw: &str) -> Result<(), NotKept> {
        let now = Instant::now();
        let Some(conn) = self.conns.get_mut(&id) else {
            return Ok(());
        };
        match self.prelogin.keep(&mut conn.pending, raw, now) {
            Err(NotKept::ServerFull) if self.prelogin.sweep_due(now) => {
                for c in self.conns.values_mut().filter(|c| !c.pending.is_empty()) {
                    self.prelogin.expire(&mut c.pending, now);
                }
                let Some(conn) = self.conns.get_mut(&id) else {
                    return Ok(());
                };
                self.prelogin.keep(&mut conn.pending, raw, now)
            }
            kept => kept,
        }
    }

    /// Queues a frame; a connection whose queue is full is cut off, never waited for.
    pub(crate) fn send(&mut self, id: ConnId, frame: &Frame) {
        if !fits_one_frame(frame) {
            return;
        }
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        match conn.out.push(frame) {
            Ok(true) => self.dirty.push(conn.out.clone()),
            Ok(false) => {}
            Err(e) => self.push_failed(id, e),
        }
    }

    fn push_failed(&mut self, id: ConnId, e: PushError) {
        match e {
            PushError::Full(cap) => {
                if let Some(conn) = self.conns.get(&id) {
                    conn.kill.slow_consumer(id, cap);
                }
                self.remove(id);
            }
            PushError::Closed => {
                tracing::debug!(conn = id, "frame for a closing socket dropped");
                self.remove(id)
            }
        }
    }

    /// Queues a frame for each of `users` that is online. The connections of a recipient list
    /// are looked up once per registry generation and kept in `cache`, so a fan-out does not
    /// hash every recipient's id for every message.
    /// Returns how many sockets the frame was queued on.
    pub(crate) fn send_users(
        &mut self,
        users: &[String],
        cache: &CachedTargets,
        frame: &Frame,
    ) -> usize {
        if !fits_one_frame(frame) {
            return 0;
        }
        let mut cached = cache.lock().unwrap_or_else(|p| p.into_inner());
        if cached.as_ref().map(|(g, _)| *g) != Some(self.generation) {
            let targets = users
                .iter()
                .filter_map(|u| self.by_user.get(u))
                .filter_map(|id| self.conns.get(id).map(|c| (*id, Arc::downgrade(&c.out))))
                .collect();
            *cached = Some((self.generation, targets));
        }
        let mut failed = Vec::new();
        let mut queued = 0;
        if let Some((_, targets)) = cached.as_ref() {
            for (id, out) in targets {
                let Some(out) = out.upgrade() else { continue };
                match out.push(frame) {
                    Ok(true) => {
                        self.dirty.push(out);
                        queued += 1;
                    }
                    Ok(false) => queued += 1,
                    Err(e) => failed.push((*id, e)),
                }
            }
        }
        drop(cached);
        for (id, e) in failed {
            self.push_failed(id, e);
        }
        queued
    }

    pub(crate) fn send_user(&mut self, user_id: &str, frame: &Frame) -> bool {
        match self.by_user.get(user_id).copied() {
            Some(id) => {
                self.send(id, frame);
                true
            }
            None => false,
        }
    }

    pub(crate) fn send_service(&mut self, service_id: &str, frame: &Frame) -> bool {
        match self.by_service.get(service_id).copied() {
            Some(id) => {
                self.send(id, frame);
                true
            }
            None => false,
        }
    }

    pub(crate) fn close(&mut self, id: ConnId, code: u16, reason: &str, after: Duration) {
        if let Some(conn) = self.conns.get(&id) {
            if after.is_zero() {
                conn.kill.fire(code, reason);
            } else {
                conn.out.close_after(code, reason, after);
            }
        }
    }

    pub(crate) fn remove(&mut self, id: ConnId) {
        if let Some(mut conn) = self.conns.remove(&id) {
            self.generation += 1;
            self.prelogin.clear(&mut conn.pending);
            if conn.awaiting_login {
                self.prelogin.sockets -= 1;
            }
            match conn.identity {
                Some(Identity::Service { service_id, .. })
                    if self.by_service.get(&service_id) == Some(&id) =>
                {
                    self.by_service.remove(&service_id);
                }
                Some(Identity::User { user_id }) if self.by_user.get(&user_id) == Some(&id) => {
                    self.by_user.remove(&user_id);
                }
                _ => {}
            }
        }
    }

    fn unregister_identity(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        self.generation += 1;
        match conn.identity.take() {
            Some(Identity::Service { service_id, .. })
                if self.by_service.get(&service_id) == Some(&id) =>
            {
                self.by_service.remove(&service_id);
            }
            Some(Identity::User { user_id }) if self.by_user.get(&user_id) == Some(&id) => {
                self.by_user.remove(&user_id);
            }
            _ => {}
        }
    }
}

/// A batch of inbound frames (see [`Hub::batch`]).
pub struct Batch<'a> {
    hub: &'a Hub,
    dirty: Vec<Arc<dyn Outbox>>,
}

impl Batch<'_> {
    /// Handles one inbound text frame; what it sends is written when the batch ends.
    pub fn on_frame(&mut self, id: ConnId, raw: &str) {
        self.hub.handle_frame(id, raw, &mut self.dirty);
    }

    /// Ends the batch without flushing: the outboxes that got frames, each once, for the
    /// caller to [`flush`](Outbox::flush) (dropping the batch flushes them in order instead).
    pub fn finish(mut self) -> Vec<Arc<dyn Outbox>> {
        std::mem::take(&mut self.dirty)
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        for out in self.dirty.drain(..) {
            out.flush();
        }
    }
}

pub(crate) fn text(s: String) -> Frame {
    Frame::text(&s)
}

/// Receivers drop frames over 1 MiB (the SDK closes its socket on one), so none is ever sent.
/// Whatever a client can make the hub say is refused or cut before it gets here; this is the
/// last guard.
fn fits_one_frame(frame: &Frame) -> bool {
    if frame.payload().len() > MAX_FRAME_BYTES {
        tracing::warn!(
            bytes = frame.payload().len(),
            "not sending a frame over {MAX_FRAME_BYTES} bytes"
        );
        return false;
    }
    true
}

fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The `copy` acknowledging a frame, with what it echoes of the frame cut to fit.
pub(crate) fn copy(
    request_id: &str,
    origin_type: &str,
    status: bool,
    reason: Option<&str>,
) -> Frame {
    let (id, kind) = (
        cut(request_id, MAX_ECHOED_ID),
        cut(origin_type, MAX_ECHOED_TYPE),
    );
    text(outbound::copy(
        id,
        kind,
        status,
        reason.map(|r| cut(r, MAX_ECHOED_REASON)),
    ))
}

/// A `copy` with a structured `context` (e.g. a resume's outcome).
pub(crate) fn copy_with_context(
    request_id: &str,
    origin_type: &str,
    status: bool,
    context: Map<String, Value>,
) -> Frame {
    let (id, kind) = (
        cut(request_id, MAX_ECHOED_ID),
        cut(origin_type, MAX_ECHOED_TYPE),
    );
    text(outbound::copy_with_context(id, kind, status, context))
}

/// A place among the sockets that may wait for a login, taken when a transport decides to accept
/// a socket and before it answers the upgrade: checking the limit then and counting the socket
/// only once it is connected would let every upgrade answered in between past the limit.
/// Dropped unused (the upgrade failed), it gives its place back.
pub struct Admission {
    hub: Hub,
    used: bool,
}

impl Admission {
    /// Registers the connection whose frames go to `out`, in the place this admission holds.
    pub fn connect(mut self, out: Arc<dyn Outbox>) -> ConnHandle {
        self.used = true;
        let hub = &self.hub;
        let id = hub.inner.next_conn.fetch_add(1, Ordering::Relaxed);
        let kill = Arc::new(Kill::default());
        let conn = Conn {
            out,
            kill: kill.clone(),
            identity: None,
            pending: Pending::default(),
            awaiting_login: true,
            login_failed: false,
            tokens: hub.inner.cfg.max_frames_per_sec as f64,
            refilled: Instant::now(),
        };
        let mut st = hub.lock();
        if st.closed {
            // The stop began after the admission: the socket is closed at once.
            st.sessions.prelogin.sockets -= 1;
            kill.fire(1001, SHUTTING_DOWN);
        } else {
            st.sessions.conns.insert(id, conn);
        }
        ConnHandle { id, kill }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if !self.used {
            self.hub.lock().sessions.prelogin.sockets -= 1;
        }
    }
}

impl Hub {
    /// Takes a place for a new socket among those that may wait for a login, or `None` while
    /// as many as allowed wait, or the hub is closing.
    pub fn admit(&self) -> Option<Admission> {
        let mut st = self.lock();
        if st.closed {
            return None;
        }
        if !st.sessions.prelogin.admits_socket() {
            tracing::warn!(
                waiting = st.sessions.prelogin.sockets,
                "refusing a connection: too many waiting for a login"
            );
            return None;
        }
        st.sessions.prelogin.sockets += 1;
        Some(Admission {
            hub: self.clone(),
            used: false,
        })
    }

    /// Registers a new connection whose frames go to `out`. While as many connections as
    /// allowed wait for their login, it is not registered and its kill signal is fired at once
    /// (1013, [`TOO_MANY_WAITING`]); while the hub closes, likewise with 1001.
    pub fn connect(&self, out: Arc<dyn Outbox>) -> ConnHandle {
        if let Some(admission) = self.admit() {
            return admission.connect(out);
        }
        let closed = self.lock().closed;
        let id = self.inner.next_conn.fetch_add(1, Ordering::Relaxed);
        let kill = Arc::new(Kill::default());
        if closed {
            kill.fire(1001, SHUTTING_DOWN);
        } else {
            kill.fire(1013, TOO_MANY_WAITING);
        }
        ConnHandle { id, kill }
    }

    /// Sockets open that have not logged in, and the bytes of the frames they have kept.
    pub fn prelogin_usage(&self) -> (usize, usize) {
        let st = self.lock();
        (st.sessions.prelogin.sockets, st.sessions.prelogin.used())
    }

    /// Forgets a connection (idempotent).
    pub fn disconnect(&self, id: ConnId) {
        let mut st = self.lock();
        if let Some(conn) = st.sessions.conns.get(&id) {
            tracing::debug!(conn = id, identity = ?conn.identity, "channel connection gone");
        }
        st.sessions.remove(id);
    }

    pub fn is_logged_in(&self, id: ConnId) -> bool {
        self.lock()
            .sessions
            .conns
            .get(&id)
            .map(|c| c.identity.is_some())
            .unwrap_or(false)
    }

    /// Number of live connections and of logged-in ones.
    pub fn connection_counts(&self) -> (usize, usize) {
        let st = self.lock();
        let total = st.sessions.conns.len();
        let logged = st
            .sessions
            .conns
            .values()
            .filter(|c| c.identity.is_some())
            .count();
        (total, logged)
    }

    /// Tells the hub a frame could not be read (too big, not text); the client gets a failed copy
    /// or the connection is closed by the transport.
    pub fn reject_frame(&self, id: ConnId, reason: &str) {
        let frame = copy("", "unknown", false, Some(reason));
        let mut st = self.lock();
        // Such a frame counts against the connection's rate limit like any other.
        if self.take_token(&mut st, id) {
            st.sessions.send(id, &frame);
        }
    }

    /// Handles one inbound text frame.
    pub fn on_frame(&self, id: ConnId, raw: &str) {
        self.batch().on_frame(id, raw);
    }

    /// Starts a batch: frames handled through it are flushed to their connections once, when
    /// the batch ends (is dropped), so a burst of inbound frames costs one write per recipient.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            hub: self,
            dirty: Vec::new(),
        }
    }

    fn handle_frame(&self, id: ConnId, raw: &str, dirty: &mut Vec<Arc<dyn Outbox>>) {
        // Parsing is pure, so it happens before the lock is taken.
        let parsed = inbound::parse(raw);
        let mut st = self.lock();
        if st.closed {
            // Refused unanswered: the socket is being closed with the reason.
            return;
        }
        if self.take_token(&mut st, id) {
            match parsed {
                Ok(i) => self.dispatch(&mut st, id, i, raw),
                Err(e) => {
                    let frame = copy(
                        e.request_id.as_deref().unwrap_or(""),
                        e.origin_type.as_deref().unwrap_or("unknown"),
                        false,
                        Some(&e.reason),
                    );
                    st.sessions.send(id, &frame);
                }
            }
        }
        dirty.append(&mut st.sessions.dirty);
    }

    fn take_token(&self, st: &mut State, id: ConnId) -> bool {
        let limit = self.inner.cfg.max_frames_per_sec;
        if limit == 0 {
            return true;
        }
        let Some(conn) = st.sessions.conns.get_mut(&id) else {
            return false;
        };
        let now = Instant::now();
        let rate = limit as f64;
        conn.tokens =
            (conn.tokens + now.duration_since(conn.refilled).as_secs_f64() * rate).min(rate);
        conn.refilled = now;
        if conn.tokens >= 1.0 {
            conn.tokens -= 1.0;
            return true;
        }
        tracing::warn!(conn = id, "rate limit exceeded; disconnecting");
        conn.kill.fire(
            1008,
            format!("rate limit: more than {limit} frames per second"),
        );
        st.sessions.remove(id);
        false
    }

    fn dispatch(&self, st: &mut State, id: ConnId, inbound: Inbound, raw: &str) {
        match &inbound.message {
            ClientMessage::Heartbeat => {
                let frame = copy(&inbound.request_id, "heartbeat", true, None);
                st.sessions.send(id, &frame);
            }
            ClientMessage::ServiceLogin { .. } | ClientMessage::UserLogin { .. } => {
                self.login(st, id, inbound)
            }
            _ => {
                let Some(conn) = st.sessions.conns.get(&id) else {
                    return;
                };
                match conn.identity.clone() {
                    Some(identity) => self.route(st, id, &identity, inbound),
                    None => {
                        tracing::debug!(conn = id, kind = %inbound.origin_type, "frame before the login; kept for it");
                        if let Err(e) = st.sessions.keep_pending(id, raw) {
                            let frame = copy(
                                &inbound.request_id,
                                &inbound.origin_type,
                                false,
                                Some(&e.to_string()),
                            );
                            st.sessions.send(id, &frame);
                        }
                    }
                }
            }
        }
    }

    fn login(&self, st: &mut State, id: ConnId, inbound: Inbound) {
        // A socket closing after a failed login must not take an identity over from the socket
        // that holds it (nothing would be left to hold it once this one is closed).
        if st.sessions.conns.get(&id).is_some_and(|c| c.login_failed) {
            tracing::debug!(
                conn = id,
                "login ignored: an earlier login on this socket failed"
            );
            return;
        }
        let identity = match &inbound.message {
            ClientMessage::ServiceLogin {
                access_token,
                service_id,
            } => self.check_token(st, access_token).and_then(|owner| {
                Hub::owned_service(st, &owner, service_id)
                    .map(|_| Identity::Service {
                        service_id: service_id.clone(),
                        owner,
                    })
                    .map_err(|e| e.to_string())
            }),
            ClientMessage::UserLogin { access_token } => self
                .check_token(st, access_token)
                .map(|user_id| Identity::User { user_id }),
            _ => return,
        };
        let identity = match identity {
            Ok(i) => i,
            Err(reason) => {
                tracing::debug!(conn = id, kind = %inbound.origin_type, %reason, "login failed; closing the socket");
                let frame = copy(
                    &inbound.request_id,
                    &inbound.origin_type,
                    false,
                    Some(&format!("login failed: {reason}")),
                );
                st.sessions.send(id, &frame);
                if let Some(conn) = st.sessions.conns.get_mut(&id) {
                    st.sessions.prelogin.clear(&mut conn.pending);
                    conn.login_failed = true;
                }
                st.sessions.close(
                    id,
                    1008,
                    &format!("login failed: {reason}"),
                    FAILED_LOGIN_CLOSE_DELAY,
                );
                return;
            }
        };
        let Some(conn) = st.sessions.conns.get(&id) else {
            return;
        };
        if conn.identity.as_ref() == Some(&identity) {
            tracing::debug!(conn = id, identity = ?identity, "repeated login on the same socket");
        } else {
            tracing::debug!(conn = id, identity = ?identity, previous = ?conn.identity, "login");
            st.sessions.unregister_identity(id);
            st.sessions.generation += 1;
            let previous = match &identity {
                Identity::Service { service_id, .. } => {
                    st.sessions.by_service.insert(service_id.clone(), id)
                }
                Identity::User { user_id } => st.sessions.by_user.insert(user_id.clone(), id),
            };
            if let Some(old) = previous.filter(|old| *old != id) {
                tracing::debug!(conn = old, by = id, identity = ?identity, "login taken over by a newer socket; closing the older one");
                if let Some(old_conn) = st.sessions.conns.get_mut(&old) {
                    old_conn.identity = None;
                }
                st.sessions.close(
                    old,
                    1000,
                    "superseded by a newer login of the same identity",
                    Duration::ZERO,
                );
                st.sessions.remove(old);
            }
            if let Some(conn) = st.sessions.conns.get_mut(&id) {
                conn.identity = Some(identity.clone());
                if std::mem::take(&mut conn.awaiting_login) {
                    st.sessions.prelogin.sockets -= 1;
                }
            }
        }
        let frame = copy(&inbound.request_id, &inbound.origin_type, true, None);
        st.sessions.send(id, &frame);
        let pending = match st.sessions.conns.get_mut(&id) {
            Some(conn) => st.sessions.prelogin.take(&mut conn.pending),
            None => return,
        };
        let ttl = st.sessions.prelogin.limits.ttl;
        for (at, raw) in pending {
            if at.elapsed() > ttl {
                continue;
            }
            // Parsed when it came, so it parses again.
            match inbound::parse(&raw) {
                Ok(frame) => self.route(st, id, &identity, frame),
                Err(e) => {
                    tracing::error!(conn = id, reason = %e.reason, "a kept pre-login frame no longer parses")
                }
            }
        }
    }

    fn check_token(&self, st: &State, token: &str) -> Result<String, String> {
        match st.tokens.get(token) {
            Some(t)
                if t.kind == crate::model::TokenKind::Access
                    && t.expires_ms > crate::auth::now_ms() =>
            {
                Ok(t.user_id.clone())
            }
            Some(t) if t.kind == crate::model::TokenKind::Access => {
                Err("access token expired".into())
            }
            _ => Err("invalid access token".into()),
        }
    }
}
