//! Where the server is, who we are, and which token to use.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use relay_client::queue::QueueClient;
use relay_wire::queue::is_valid_node;

/// Name of the token file `relay serve` writes into its data directory when no token is given.
const TOKEN_FILE: &str = "queue-token";
/// Where `relay serve` listens by default.
const DEFAULT_URL: &str = "http://127.0.0.1:7720";

#[derive(clap::Args, Debug, Clone)]
pub(super) struct Connection {
    /// Base URL of the server's queue face [default: from --config, else
    /// http://127.0.0.1:7720].
    #[arg(long, env = "RELAY_URL")]
    pub url: Option<String>,

    /// The server's configuration file (`relay serve --config`): its `listen`, `queue-token`
    /// and `data` stand in for --url, --token and --data when those are not given.
    #[arg(long, env = "RELAY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// This node's id (hexadecimal, like af123): the identity requests are made as.
    #[arg(long, env = "RELAY_NODE")]
    pub node: String,

    /// The queue token. Without one, the token file in the server's data directory is read.
    #[arg(long, env = "RELAY_QUEUE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// The server's data directory, to find its generated token file (`DIR/queue-token`).
    /// Defaults to the platform data directory + `relay`, as `relay serve` does.
    #[arg(long, env = "RELAY_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// The PostgreSQL queue the server nodes share (`relay serve --store`), to read the
    /// token they keep there when neither --token nor RELAY_QUEUE_TOKEN gives one.
    #[arg(long, env = "RELAY_STORE", hide_env_values = true, value_name = "URL")]
    pub store: Option<String>,

    /// Give up on a request after this many seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub timeout: f64,
}

impl Connection {
    pub(super) async fn client(&self) -> anyhow::Result<QueueClient> {
        if !is_valid_node(&self.node) {
            bail!("node id {:?} is not valid: it must be hexadecimal (like af123), at most 128 characters", self.node);
        }
        // `try_from` also refuses what a `Duration` cannot hold (`from_secs_f64` would panic).
        let Some(timeout) = Duration::try_from_secs_f64(self.timeout)
            .ok()
            .filter(|d| !d.is_zero())
        else {
            bail!("--timeout must be a positive number of seconds");
        };
        let server = match &self.config {
            Some(file) => crate::config::ServerSide::read(file)?,
            None => crate::config::ServerSide::default(),
        };
        let given = self.token.as_ref().or(server.queue_token.as_ref());
        let token = match (given, self.store.as_deref().filter(|u| !u.is_empty())) {
            (Some(t), _) => t.clone(),
            (None, Some(url)) => stored_token(url).await?,
            (None, None) => find_token(None, self.data.as_deref().or(server.data.as_deref()))?,
        };
        let url = self
            .url
            .clone()
            .or(server.url)
            .unwrap_or_else(|| DEFAULT_URL.to_owned());
        Ok(QueueClient::with_timeout(
            &url, &self.node, &token, timeout,
        )?)
    }
}

/// The queue token: `token` when given, else the one in the server's data directory (`data`, or
/// the default one `relay serve` uses).
pub(crate) fn find_token(token: Option<&str>, data: Option<&Path>) -> anyhow::Result<String> {
    if let Some(t) = token {
        return Ok(t.to_owned());
    }
    let dir = data
        .map(Path::to_path_buf)
        .unwrap_or_else(crate::serve_cmd::default_data_dir);
    let path = dir.join(TOKEN_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no queue token: pass --token or set RELAY_QUEUE_TOKEN, or point --data at the server's \
             data directory (could not read {})",
            path.display()
        )
    })?;
    let token = text.trim();
    if token.is_empty() {
        bail!("the token file {} is empty", path.display());
    }
    Ok(token.to_owned())
}

async fn stored_token(url: &str) -> anyhow::Result<String> {
    relay_queue::SharedQueue::stored_token(url)
        .await
        .context("reading the queue token from the PostgreSQL store")?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the PostgreSQL store has no queue token yet: start a `relay serve --store` node on it first, or pass --token"
            )
        })
}
