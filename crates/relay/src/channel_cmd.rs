//! `relay account …` and `relay channel …`: the channel face's command line, and the channel
//! options of `relay serve`.

mod account;
mod client;
mod ownership;

use std::path::Path;

use anyhow::Context;
use clap::Subcommand;
use relay_channels::{Hub, HubConfig, PreloginLimits};
use relay_server::channel::{ChannelFace, TrustedProxies, TrustedProxy};

#[derive(Subcommand)]
pub(crate) enum ChannelCommand {
    /// Manage the channel face's accounts (works whether or not `relay serve` is running).
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Use channels from a terminal: log in, create, join, send, watch.
    #[command(subcommand)]
    Channel(client::ChannelClientCommand),
}

/// One line to standard output. A closed pipe (`watch | head`) or a full disk is an error here,
/// where `println!` would panic.
fn say(line: impl std::fmt::Display) -> anyhow::Result<()> {
    use std::io::Write;
    writeln!(std::io::stdout(), "{line}").context("writing to standard output")
}

pub(crate) fn run(cmd: ChannelCommand) -> anyhow::Result<std::process::ExitCode> {
    match cmd {
        ChannelCommand::Account(c) => account::run(c),
        ChannelCommand::Channel(c) => client::run(c),
    }
}

/// Channel options of `relay serve`.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ServeChannelArgs {
    /// Let anyone create an account with `POST /auth/sign_up` (off: the operator creates
    /// accounts with `relay account add`).
    #[arg(long)]
    pub open_signup: bool,
    /// Frames a channel connection may have waiting to be sent before it is disconnected as a
    /// slow consumer.
    #[arg(long, default_value_t = 4096)]
    pub channel_outbound_queue: usize,
    /// Inbound frames per second one channel connection may send before it is disconnected
    /// (0: no limit).
    #[arg(long, default_value_t = 5000)]
    pub channel_max_frames_per_sec: u32,
    /// Messages kept per channel for history and resume.
    #[arg(long, default_value_t = 100_000)]
    pub channel_history_limit: u64,
    /// Bytes of frames all channel sockets that have not logged in may have kept for after
    /// their logins, together; beyond it such frames are refused with a failed copy.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub channel_prelogin_budget: usize,
    /// Channel sockets that may be open at once without having logged in (0: no limit); more
    /// are refused with HTTP 503.
    #[arg(long, default_value_t = 1024)]
    pub channel_max_unauthenticated: usize,
    /// A reverse proxy (address or network; repeat it, or separate several with commas) whose
    /// `X-Forwarded-For` names the client for the sign-in throttle. Without it every client
    /// behind a proxy counts as the proxy.
    #[arg(
        long,
        env = "RELAY_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_name = "ADDR|NET"
    )]
    pub trusted_proxy: Vec<TrustedProxy>,
    /// With `--store postgres://…`: the address (HOST:PORT) other nodes reach this node's
    /// listener at, recorded when it serves the channel state; the listening address by default.
    #[arg(long, env = "RELAY_ADVERTISE", value_name = "HOST:PORT")]
    pub advertise: Option<String>,
    /// With `--store postgres://…`: a standby node forwards channel requests and WebSockets to
    /// the node serving the channel state (at its advertised address) instead of answering 503.
    #[arg(long, env = "RELAY_FORWARD_TO_OWNER")]
    pub forward_to_owner: bool,
    /// The channels' share of `--cache-mb`, in bytes, set by `relay serve` (see
    /// `HubConfig::cache_bytes`).
    #[arg(skip = HubConfig::default().cache_bytes)]
    pub cache_bytes: usize,
}

impl ServeChannelArgs {
    fn hub_config(&self) -> HubConfig {
        HubConfig {
            open_signup: self.open_signup,
            outbound_queue: self.channel_outbound_queue.max(16),
            max_frames_per_sec: self.channel_max_frames_per_sec,
            history_limit: self.channel_history_limit.max(1),
            cache_bytes: self.cache_bytes,
            prelogin: PreloginLimits {
                budget_bytes: self.channel_prelogin_budget,
                max_sockets: self.channel_max_unauthenticated,
                ..PreloginLimits::default()
            },
            ..HubConfig::default()
        }
    }
}

/// `relay serve`'s default data directory (the `relay` folder in the user's data directory).
pub(crate) fn default_data_dir() -> std::path::PathBuf {
    dirs::data_dir()
        .map(|d| d.join("relay"))
        .unwrap_or_else(|| std::path::PathBuf::from("relay-data"))
}

/// Where the channel face keeps its files inside the shared data directory.
pub(crate) fn channels_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("channels")
}

/// Opens the channel face for `relay serve`: its state under `data_dir`, or with `store` in
/// that PostgreSQL database (see `ownership`). The admin socket serves whichever hub the face
/// has at the time. With PostgreSQL, also the task that keeps asking for the state.
pub(crate) async fn open_face(
    args: &ServeChannelArgs,
    data_dir: &Path,
    store: Option<&str>,
    node: &str,
) -> anyhow::Result<(ChannelFace, Option<tokio::task::JoinHandle<()>>)> {
    let dir = channels_dir(data_dir);
    let proxies = TrustedProxies::new(args.trusted_proxy.clone());
    let (face, owning) = match store {
        None => {
            let hub = Hub::open(&dir, args.hub_config()).map_err(|e| {
                anyhow::anyhow!("opening the channel store in {}: {e}", dir.display())
            })?;
            (ChannelFace::new(hub).with_trusted_proxies(proxies), None)
        }
        Some(url) => {
            let node = args.advertise.as_deref().unwrap_or(node);
            let owning =
                ownership::Owning::new(url, &dir, args.hub_config(), node, args.forward_to_owner);
            let face = owning.first().await?.with_trusted_proxies(proxies);
            let task = owning.spawn(face.clone());
            (face, Some(task))
        }
    };
    relay_server::channel::admin::spawn(face.clone(), &dir.join("admin.sock")).map_err(|e| {
        anyhow::anyhow!("binding the channel admin socket in {}: {e}", dir.display())
    })?;
    Ok((face, owning))
}
