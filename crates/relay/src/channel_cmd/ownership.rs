//! The channel face of `relay serve --store postgres://…`: one node at a time serves the
//! channel state (the owner, whose hub holds the state's ownership lock); every other node is a
//! standby whose face answers 503 naming the owner, and asks for the state about every second,
//! so that it takes over by itself once the owner goes away. An owner that finds the state
//! taken from it (its connection broke and another node took the lock meanwhile) closes its
//! sockets, drops its hub and stands by again.
//!
//! Only one node may serve because the hub's memory is authoritative (members, sessions,
//! offsets): two hubs on one database would diverge. Active/active needs the bus.

use std::path::{Path, PathBuf};
use std::time::Duration;

use relay_channels::{Hub, HubConfig, HubError, OwnerInfo, PostgresError};
use relay_server::channel::ChannelFace;

/// How long a standby waits between its asks for the state. An ask that finds it owned has
/// already waited about a second (the store asks for the lock several times), so this keeps
/// the whole round near a second.
const RETRY: Duration = Duration::from_millis(250);
/// A standby whose asks fail for another reason (PostgreSQL away) waits longer.
const RETRY_FAILING: Duration = Duration::from_secs(1);
/// The close code and reason of the sockets of a node that lost the state: the client is to
/// reconnect, and reaches the new owner through the proxy.
pub(crate) const LOST_CODE: u16 = 1012;
const LOST_REASON: &str = "service restart: this node no longer serves the channel state";

/// What a standby answers: who serves the state instead.
pub(crate) fn standby_message(owner: &str) -> String {
    format!(
        "channel state is served by another node ({owner}); this node takes over if that one \
         stops"
    )
}

/// How a node asks for the state.
#[derive(Clone)]
pub(crate) struct Owning {
    url: String,
    files: PathBuf,
    cfg: HubConfig,
    me: OwnerInfo,
    /// Whether a standby forwards channel requests to the owner.
    forward: bool,
}

impl Owning {
    pub(crate) fn new(url: &str, dir: &Path, cfg: HubConfig, node: &str, forward: bool) -> Owning {
        let admin = dir.join("admin.sock").display().to_string();
        Owning {
            url: url.to_owned(),
            files: dir.join("files"),
            cfg,
            me: OwnerInfo::this_process(node, Some(admin)),
            forward,
        }
    }

    /// Where a standby sends channel requests: the owner's address, when this node forwards
    /// and the owner named one that another machine can reach.
    fn forward_target(&self, e: &PostgresError) -> Option<String> {
        if !self.forward {
            return None;
        }
        let node = &e.owner()?.node;
        match node.parse::<std::net::SocketAddr>() {
            Ok(addr) if addr.ip().is_unspecified() => None,
            _ if node.is_empty() => None,
            _ => Some(node.clone()),
        }
    }

    async fn open(&self) -> Result<Hub, HubError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            Hub::open_postgres_as(&this.url, &this.files, this.cfg, this.me)
        })
        .await
        .unwrap_or(Err(HubError::WriterGone))
    }

    /// The face at start: serving, or a standby if another node owns the state. Any other
    /// failure (a bad URL, a schema too new) stops the start.
    pub(crate) async fn first(&self) -> anyhow::Result<ChannelFace> {
        match self.open().await {
            Ok(hub) => {
                crate::logging::announce(format_args!(
                    "channel state: PostgreSQL; this node serves it"
                ));
                Ok(ChannelFace::new(hub))
            }
            Err(HubError::Postgres(e @ PostgresError::Owned { .. })) => {
                let owner = e.owner_description().unwrap_or_default();
                crate::logging::announce(format_args!(
                    "channel state: PostgreSQL, served by another node ({owner}); this node \
                     stands by and takes over if that one stops"
                ));
                let forward = self.forward_target(&e);
                if self.forward && forward.is_none() {
                    tracing::warn!(%owner, "the node serving the channel state advertises no address other nodes can reach (set --advertise on it); answering 503 instead of forwarding");
                }
                Ok(ChannelFace::standby(standby_message(&owner), forward))
            }
            Err(e) => Err(anyhow::Error::new(e).context("opening the channel state in PostgreSQL")),
        }
    }

    /// Keeps the face serving whenever this node can own the state, until the task is
    /// aborted (at the stop, before the hub is closed, so that no takeover races the stop).
    pub(crate) fn spawn(self, face: ChannelFace) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move { self.keep_owning(face).await })
    }

    async fn keep_owning(self, face: ChannelFace) {
        let mut failing = false;
        loop {
            if let Some(hub) = face.hub() {
                let owner = hub.ownership_lost().await;
                tracing::warn!(%owner, "lost the channel state to another node; closing the channel sockets and standing by");
                if let Some(hub) = face.stand_by(standby_message(&owner), None) {
                    hub.abandon(LOST_CODE, LOST_REASON);
                }
            }
            tokio::time::sleep(if failing { RETRY_FAILING } else { RETRY }).await;
            match self.open().await {
                Ok(hub) => {
                    failing = false;
                    tracing::info!("took over the channel state");
                    face.serve(hub);
                }
                Err(HubError::Postgres(e @ PostgresError::Owned { .. })) => {
                    failing = false;
                    let owner = e.owner_description().unwrap_or_default();
                    face.stand_by(standby_message(&owner), self.forward_target(&e));
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(
                            error = &e as &dyn std::error::Error,
                            "cannot ask PostgreSQL for the channel state; trying again every second"
                        );
                    }
                    failing = true;
                }
            }
        }
    }
}
