//! The pre-login buffer: frames a socket sends before its login, kept to run after it. Anyone
//! may open sockets without credentials, so what such sockets make the server hold is bounded
//! per socket, server-wide, and in how many of them may be open at once.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use relay_wire::channel::MAX_FRAME_BYTES;

/// Frames a socket may keep before its login.
const MAX_PENDING: usize = 64;
/// Bytes of pre-login frames a socket may keep: one frame of the largest size and then some,
/// far below 64 frames of the largest size.
const MAX_PENDING_BYTES: usize = 2 * MAX_FRAME_BYTES;
/// The longest a server-wide sweep for expired frames may wait behind a refusal: expired frames
/// of silent sockets would otherwise keep the budget until their sockets close.
const MAX_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// What sockets that have not logged in may make the server hold, all of them together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreloginLimits {
    /// Bytes of frame text all sockets together may keep before their logins.
    pub budget_bytes: usize,
    /// How long a kept frame stays eligible to run after a login; older ones are dropped.
    pub ttl: Duration,
    /// Sockets that may be open at once without having logged in (0: no limit). Each may also
    /// hold a frame being read (up to 1 MiB), which no buffer counts.
    pub max_sockets: usize,
}

impl Default for PreloginLimits {
    fn default() -> Self {
        Self {
            budget_bytes: 64 * 1024 * 1024,
            ttl: Duration::from_secs(30),
            max_sockets: 1024,
        }
    }
}

/// Why a frame sent before the login was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NotKept {
    #[error("not logged in, and the pre-login buffer is full")]
    SocketFull,
    #[error("not logged in, and the server's pre-login buffers are full (sockets that have not logged in hold all the server allows); log in first")]
    ServerFull,
}

/// One socket's kept frames, as their text: a parsed frame can take many times the memory of its
/// text, so the text is what is kept and counted, and it is parsed again at the login.
#[derive(Default)]
pub(crate) struct Pending {
    frames: VecDeque<(Instant, Box<str>)>,
    bytes: usize,
}

impl Pending {
    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

/// The server-wide account of pre-login frames and sockets. Every change to a socket's
/// [`Pending`] goes through it, so the budget is given back whenever frames leave a buffer.
#[derive(Default)]
pub(crate) struct Prelogin {
    pub limits: PreloginLimits,
    /// Bytes kept in all pre-login buffers.
    used: usize,
    /// Sockets open that have not logged in yet.
    pub sockets: usize,
    last_sweep: Option<Instant>,
}

impl Prelogin {
    pub(crate) fn new(limits: PreloginLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    pub(crate) fn used(&self) -> usize {
        self.used
    }

    /// Whether another socket that has not logged in may be opened.
    pub(crate) fn admits_socket(&self) -> bool {
        self.limits.max_sockets == 0 || self.sockets < self.limits.max_sockets
    }

    /// Drops a socket's frames too old to run after a login.
    pub(crate) fn expire(&mut self, p: &mut Pending, now: Instant) {
        while p
            .frames
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > self.limits.ttl)
        {
            if let Some((_, raw)) = p.frames.pop_front() {
                self.give_back(p, raw.len());
            }
        }
    }

    /// Keeps a frame's text for after the login, within the socket's and the server's limits.
    pub(crate) fn keep(&mut self, p: &mut Pending, raw: &str, now: Instant) -> Result<(), NotKept> {
        self.expire(p, now);
        if p.frames.len() >= MAX_PENDING || p.bytes + raw.len() > MAX_PENDING_BYTES {
            return Err(NotKept::SocketFull);
        }
        if self.used + raw.len() > self.limits.budget_bytes {
            return Err(NotKept::ServerFull);
        }
        p.frames.push_back((now, raw.into()));
        p.bytes += raw.len();
        self.used += raw.len();
        Ok(())
    }

    /// Whether a refusal for want of budget should first look for expired frames everywhere
    /// (at most once per [`MAX_SWEEP_INTERVAL`], or per TTL if shorter).
    pub(crate) fn sweep_due(&mut self, now: Instant) -> bool {
        let every = self.limits.ttl.min(MAX_SWEEP_INTERVAL);
        if self
            .last_sweep
            .is_some_and(|at| now.duration_since(at) < every)
        {
            return false;
        }
        self.last_sweep = Some(now);
        true
    }

    /// Takes a socket's frames (at its login) with when each came.
    pub(crate) fn take(&mut self, p: &mut Pending) -> VecDeque<(Instant, Box<str>)> {
        self.used -= p.bytes;
        p.bytes = 0;
        std::mem::take(&mut p.frames)
    }

    /// Drops a socket's frames (a failed login, a closed socket or server).
    pub(crate) fn clear(&mut self, p: &mut Pending) {
        self.take(p);
    }

    fn give_back(&mut self, p: &mut Pending, len: usize) {
        p.bytes -= len;
        self.used -= len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(budget_bytes: usize) -> PreloginLimits {
        PreloginLimits {
            budget_bytes,
            ttl: Duration::from_secs(30),
            max_sockets: 0,
        }
    }

    #[test]
    fn the_server_budget_is_shared_and_given_back() {
        let mut pre = Prelogin::new(limits(10));
        let (mut a, mut b) = (Pending::default(), Pending::default());
        let now = Instant::now();
        assert_eq!(pre.keep(&mut a, "123456", now), Ok(()));
        assert_eq!(pre.keep(&mut b, "12345", now), Err(NotKept::ServerFull));
        assert_eq!(pre.keep(&mut b, "1234", now), Ok(()));
        assert_eq!(pre.used(), 10);
        assert_eq!(pre.take(&mut a).len(), 1);
        assert_eq!(pre.used(), 4);
        pre.clear(&mut b);
        assert_eq!(pre.used(), 0);
        assert!(a.is_empty() && b.is_empty());
    }

    #[test]
    fn expired_frames_give_their_bytes_back() {
        let mut pre = Prelogin::new(PreloginLimits {
            ttl: Duration::from_millis(10),
            ..limits(100)
        });
        let mut p = Pending::default();
        let then = Instant::now();
        pre.keep(&mut p, "12345", then).unwrap();
        pre.keep(&mut p, "123", then + Duration::from_millis(8))
            .unwrap();
        pre.expire(&mut p, then + Duration::from_millis(15));
        assert_eq!(pre.used(), 3);
        pre.expire(&mut p, then + Duration::from_millis(30));
        assert_eq!(pre.used(), 0);
        assert!(p.is_empty());
    }

    #[test]
    fn a_socket_keeps_at_most_its_own_share() {
        let mut pre = Prelogin::new(limits(usize::MAX));
        let mut p = Pending::default();
        let now = Instant::now();
        for _ in 0..MAX_PENDING {
            pre.keep(&mut p, "{}", now).unwrap();
        }
        assert_eq!(pre.keep(&mut p, "{}", now), Err(NotKept::SocketFull));
        let mut q = Pending::default();
        let big = "x".repeat(MAX_FRAME_BYTES);
        pre.keep(&mut q, &big, now).unwrap();
        pre.keep(&mut q, &big, now).unwrap();
        assert_eq!(pre.keep(&mut q, "{}", now), Err(NotKept::SocketFull));
    }
}
