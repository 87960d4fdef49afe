//! The hub: the in-memory view of all channel state (loaded from the store at start and written
//! through on every change) plus the registry of live connections. Transports feed it text
//! frames and drain per-connection bounded queues; the hub never touches a socket.
//!
//! - `directory`: accounts, tokens, services, agents, channels, bindings, groups (the HTTP API).
//! - `session`: connections, logins and the bounded outbound queues.
//! - `prelogin`: the frames sockets send before their login, and what all such sockets may hold.
//! - `routing`: what each inbound frame does once its sender is known.
//! - `log`: per-channel message offsets, history and resume.

mod directory;
mod log;
mod prelogin;
mod routing;
mod session;

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::HubError;
use crate::model::{Account, Agent, Channel, Group, Service, Token, UiEntry};
use crate::store::{Files, Loaded, Store};

pub use directory::{ChannelSummary, Tokens};
pub use prelogin::PreloginLimits;
pub use session::{
    Admission, Batch, ConnHandle, ConnId, Kill, Outbox, PushError, TOO_MANY_WAITING,
};

/// Tunables of the channel face.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Whether `POST /auth/sign_up` creates accounts.
    pub open_signup: bool,
    /// Frames a connection may have waiting to be written before it is cut off as too slow.
    pub outbound_queue: usize,
    /// Inbound frames per second a connection may send (0 = no limit); bursts up to one
    /// second's worth are allowed.
    pub max_frames_per_sec: u32,
    /// Messages kept per channel for history and resume; older ones are deleted.
    pub history_limit: u64,
    /// Newest messages per channel kept in memory at most (within `cache_bytes`).
    pub recent_in_memory: usize,
    /// Bytes of memory for channel messages beyond the records that make a message's path:
    /// half for the newest messages of all channels together, half for the store's page cache
    /// (the embedded file's). History and resume read older messages from the store.
    pub cache_bytes: usize,
    /// What sockets that have not logged in may make the server hold.
    pub prelogin: PreloginLimits,
}

impl HubConfig {
    /// The newest messages' half of `cache_bytes`.
    pub(crate) fn recent_bytes(&self) -> usize {
        self.cache_bytes / 2
    }

    /// The page cache's half of `cache_bytes`.
    pub(crate) fn page_cache_bytes(&self) -> usize {
        self.cache_bytes - self.recent_bytes()
    }
}

/// The channel messages a hub keeps in memory, and what its store read to start it: with many
/// channels or deep histories both follow [`HubConfig::cache_bytes`], not the histories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageMemory {
    /// Messages held now, across all channels.
    pub held: usize,
    /// What they take, about.
    pub held_bytes: usize,
    /// Messages the store read when the hub opened (or took the state over).
    pub loaded_at_open: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            open_signup: false,
            outbound_queue: 4096,
            max_frames_per_sec: 5000,
            history_limit: 100_000,
            recent_in_memory: 1024,
            cache_bytes: 32 << 20,
            prelogin: PreloginLimits::default(),
        }
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub accounts: HashMap<String, Account>,
    pub email_of: HashMap<String, String>,
    pub tokens: HashMap<String, Token>,
    pub services: HashMap<String, Service>,
    pub agents: HashMap<String, Agent>,
    pub channels: HashMap<String, Channel>,
    pub groups: HashMap<String, Group>,
    pub ui: HashMap<String, UiEntry>,
    pub logs: HashMap<String, log::ChannelLog>,
    /// What all logs hold in memory together.
    pub recent: log::Recent,
    /// Per channel: recipients groups resolved against its members (emptied when they change).
    pub resolved: HashMap<String, HashMap<String, Arc<routing::Resolved>>>,
    pub sessions: session::Registry,
    /// Set by [`Hub::close`]: no frame is handled after it, since nothing it logged would
    /// reach the disk.
    pub closed: bool,
}

pub(crate) struct Inner {
    pub cfg: HubConfig,
    pub store: Store,
    pub state: Mutex<State>,
    pub epoch: String,
    pub files: Files,
    pub loaded_at_open: usize,
    pub next_conn: AtomicU64,
    pub passwords: crate::throttle::PasswordGuard,
}

/// The channel hub. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    pub(crate) inner: Arc<Inner>,
}

impl Hub {
    /// Opens the hub's state in `dir` (created if missing): `channels.redb` and `files/`.
    pub fn open(dir: &Path, cfg: HubConfig) -> Result<Hub, HubError> {
        std::fs::create_dir_all(dir.join("files"))?;
        let (store, loaded) = crate::store::open_redb(&dir.join("channels.redb"), &cfg)?;
        let files = Files::disk(dir.join("files"));
        Ok(Hub::with_store(store, loaded, files, cfg))
    }

    /// Opens the hub's state in the PostgreSQL database at `url` (a libpq-style
    /// `postgres://` URL; `?schema=NAME` picks the schema, `public` by default), applying the
    /// missing migrations. Uploaded files are kept in the database too; `files_dir` (created
    /// if missing) spools uploads and still serves files kept there by earlier versions.
    ///
    /// One hub owns a database's channel state at a time: its in-memory state is authoritative,
    /// so a second open fails with [`crate::PostgresError::Owned`] while the first is open.
    pub fn open_postgres(url: &str, files_dir: &Path, cfg: HubConfig) -> Result<Hub, HubError> {
        Hub::open_postgres_as(
            url,
            files_dir,
            cfg,
            crate::OwnerInfo::this_process("", None),
        )
    }

    /// [`Hub::open_postgres`], recording `me` as the owner: a hub refused because this one
    /// owns the state names it from that record (see [`crate::PostgresError::Owned`]).
    pub fn open_postgres_as(
        url: &str,
        files_dir: &Path,
        cfg: HubConfig,
        me: crate::OwnerInfo,
    ) -> Result<Hub, HubError> {
        std::fs::create_dir_all(files_dir)?;
        let (store, loaded) = crate::store::open_postgres(url, &cfg, me)?;
        let files = Files::postgres(files_dir.to_owned(), url)?;
        Ok(Hub::with_store(store, loaded, files, cfg))
    }

    /// Resolves once another hub has taken this hub's state (PostgreSQL only: see
    /// [`crate::PostgresError::Lost`]), with who owns it now. From then on every change this
    /// hub makes fails to commit; the caller is to [`Hub::abandon`] it.
    pub async fn ownership_lost(&self) -> String {
        self.inner.store.lost().await
    }

    /// The hub over a store just opened and what it loaded.
    fn with_store(store: Store, loaded: Loaded, files: Files, cfg: HubConfig) -> Hub {
        let Loaded {
            epoch,
            accounts,
            tokens,
            services,
            agents,
            channels,
            groups,
            ui,
            logs,
        } = loaded;
        let now = crate::auth::now_ms();
        let mut state = State::default();
        state.sessions.prelogin = prelogin::Prelogin::new(cfg.prelogin);
        for a in accounts {
            state.email_of.insert(a.user_id.clone(), a.email.clone());
            state.accounts.insert(a.email.clone(), a);
        }
        state.tokens = tokens
            .into_iter()
            .filter(|(_, t)| t.expires_ms > now)
            .collect();
        state.services = services
            .into_iter()
            .map(|s| (s.service_id.clone(), s))
            .collect();
        state.agents = agents
            .into_iter()
            .map(|a| (a.character_id.clone(), a))
            .collect();
        state.channels = channels
            .into_iter()
            .map(|mut c| {
                c.reindex();
                (c.channel_id.clone(), c)
            })
            .collect();
        state.groups = groups
            .into_iter()
            .map(|g| (g.group_id.clone(), g))
            .collect();
        state.ui = ui.into_iter().collect();
        for (ch, log) in &logs {
            if let Some((from, to)) = log.new_hole {
                // Kept, so that resumes across it say that messages may be missing.
                tracing::warn!(channel = %ch, from, to, "channel log: offsets skipped after an unclean stop");
                store.put_log_meta(ch, &log.meta);
            }
        }
        let loaded_at_open = logs.values().map(|l| l.newest.len()).sum();
        (state.logs, state.recent) = log::loaded(logs, &cfg);
        tracing::debug!(
            channels = state.channels.len(),
            loaded = loaded_at_open,
            held = state.recent.messages(),
            held_bytes = state.recent.bytes(),
            "channel state loaded"
        );
        Hub {
            inner: Arc::new(Inner {
                cfg,
                store,
                state: Mutex::new(state),
                epoch,
                files,
                loaded_at_open,
                next_conn: AtomicU64::new(1),
                passwords: crate::throttle::PasswordGuard::new(),
            }),
        }
    }

    pub fn config(&self) -> &HubConfig {
        &self.inner.cfg
    }

    /// The store's epoch: it changes only if the store is recreated, which invalidates offsets.
    pub fn epoch(&self) -> &str {
        &self.inner.epoch
    }

    /// The bound on password checks and the sign-in throttle.
    pub fn passwords(&self) -> &crate::throttle::PasswordGuard {
        &self.inner.passwords
    }

    /// The channel messages held in memory, and what the store read at open.
    pub fn message_memory(&self) -> MessageMemory {
        let st = self.lock();
        MessageMemory {
            held: st.recent.messages(),
            held_bytes: st.recent.bytes(),
            loaded_at_open: self.inner.loaded_at_open,
        }
    }

    /// Where uploaded files are kept.
    pub fn files(&self) -> &Files {
        &self.inner.files
    }

    /// Locks the state. Frames queued while it is held are flushed to their connections when
    /// the guard is dropped, after the lock is released.
    pub(crate) fn lock(&self) -> Locked<'_> {
        // A panic while holding the lock must not take every later request down with it.
        Locked(Some(
            self.inner.state.lock().unwrap_or_else(|p| p.into_inner()),
        ))
    }

    /// How far the store's writer has committed the changes queued so far: frames tagged with
    /// [`Commits::queued`] when the hub queues them may leave once [`Commits::durable`] reaches
    /// the tag, so that nobody is told of a message, join or UI update a crash could lose.
    pub fn commits(&self) -> &Arc<crate::store::Commits> {
        self.inner.store.commits()
    }

    /// Waits until all state changes so far are on disk.
    pub fn flush(&self) -> Result<(), HubError> {
        self.inner.store.sync()
    }

    /// Stops serving a state this hub no longer owns: every socket is closed with `code` and
    /// `reason`, frames still to come are refused and nothing more is written (the new owner's
    /// state is not this hub's to touch, and the store would refuse it anyway).
    pub fn abandon(&self, code: u16, reason: &str) {
        let mut st = self.lock();
        st.closed = true;
        for conn in st.sessions.conns.values() {
            conn.kill.fire(code, reason);
        }
        st.sessions.drop_all_pending();
    }

    /// A clean stop: everything on disk, and each channel's offset reservation lowered to its
    /// next offset, so that the next start finds no offsets that a crash could have lost.
    /// Sockets still open are closed and their later frames refused: a message handled after
    /// this would reach its recipients but not the log.
    pub fn close(&self) -> Result<(), HubError> {
        {
            let mut st = self.lock();
            st.closed = true;
            for conn in st.sessions.conns.values() {
                conn.kill.fire(1001, session::SHUTTING_DOWN);
            }
            st.sessions.drop_all_pending();
            for (ch, log) in st.logs.iter_mut() {
                self.inner.store.put_log_meta(ch, &log.clean_stop());
            }
        }
        self.inner.store.sync()
    }
}

/// The locked hub state; see [`Hub::lock`].
pub(crate) struct Locked<'a>(Option<MutexGuard<'a, State>>);

impl Deref for Locked<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        self.0.as_ref().expect("guard present until drop")
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        self.0.as_mut().expect("guard present until drop")
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let Some(mut guard) = self.0.take() else {
            return;
        };
        if guard.sessions.dirty.is_empty() {
            return;
        }
        let dirty = std::mem::take(&mut guard.sessions.dirty);
        drop(guard);
        for out in dirty {
            out.flush();
        }
    }
}

/// rustc's FxHash: a few instructions per word, for the maps of the connection registry, which
/// are looked up once per recipient of every message. Their keys are server-generated
/// (connection counters, user and service ids), never chosen by a client, so the flooding
/// resistance of the standard hasher buys nothing there.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(tail) ^ ((rest.len() as u64) << 56));
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;
