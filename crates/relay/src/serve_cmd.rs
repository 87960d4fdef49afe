//! `relay serve`: opens the stores under the data directory and runs the network server until
//! SIGINT or SIGTERM; with `--tls-cert`/`--tls-key` over TLS, and SIGHUP reads them again.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use relay_queue::{Durability, Engine, EngineConfig, Queue, RedbStore, SharedQueue};
use relay_server::queue::{BodyLimits, QueueFace, QueueHttpConfig};

use crate::channel_cmd::{self, ServeChannelArgs};

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// TOML file of settings, keyed by these long option names (`listen = "0.0.0.0:7720"`);
    /// options given as flags or environment variables override it.
    #[arg(long, env = "RELAY_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on. Without it, SCIROCCO_PORT (if set) picks a port on 127.0.0.1.
    #[arg(long, env = "RELAY_LISTEN")]
    listen: Option<SocketAddr>,
    /// Data directory [default: the `relay` folder in the user's data directory].
    #[arg(long, env = "RELAY_DATA")]
    data: Option<PathBuf>,
    /// Token every queue request must carry in `Authorization` (SCIROCCO_MASTER_TOKEN is read
    /// too). Without one, a generated token is kept in DATA/queue-token, or with a PostgreSQL
    /// store in the database, shared by every node (and copied to DATA/queue-token).
    #[arg(long, env = "RELAY_QUEUE_TOKEN", hide_env_values = true)]
    queue_token: Option<String>,
    /// Seconds before a pulled, unacked message goes back to pending (0: never).
    #[arg(long, default_value_t = 300)]
    visibility_timeout: u64,
    /// Seconds a processed message is kept after its ack (0: until a client deletes it).
    #[arg(long, default_value_t = 3600)]
    processed_retention: u64,
    /// Largest request body in bytes, whatever its type.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_payload: usize,
    /// JSON body limit in KiB (the original's default).
    #[arg(long, env = "SCIROCCO_MAX_KB_SIZE_JSON", default_value_t = 100)]
    max_json_kb: usize,
    /// Text body limit in KiB.
    #[arg(long, env = "SCIROCCO_MAX_KB_SIZE_TEXT", default_value_t = 100)]
    max_text_kb: usize,
    /// Binary body limit in KiB.
    #[arg(long, env = "SCIROCCO_MAX_KB_SIZE_RAW", default_value_t = 1000)]
    max_raw_kb: usize,
    /// Most messages `GET /messages` returns.
    #[arg(long, env = "SCIROCCO_MAX_GET_ALL_MESSAGES", default_value_t = 100)]
    max_list: usize,
    /// `immediate`: every change is on disk before its reply, a pull within 20 ms of it (a crash
    /// of the process loses none). `relaxed`: on disk within 100 ms.
    #[arg(long, default_value = "immediate", value_parser = parse_durability)]
    durability: Durability,
    /// MiB of stored messages kept in memory, split in four: whole queue messages (records and
    /// payloads) recently written or read, the queue file's page cache, the newest channel
    /// messages of all channels, the channel file's page cache. Anything else is read from the
    /// stores when an answer needs it. Apart from it, the index of every stored queue message
    /// takes about 70 bytes a message. 0 keeps only what is being written.
    #[arg(long, env = "RELAY_CACHE_MB", default_value_t = 64, value_name = "MIB")]
    cache_mb: usize,
    /// Where the queue is kept: a PostgreSQL server, as `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`
    /// (`?schema=NAME` for a schema other than `public`), which any number of nodes may share
    /// [default: the embedded file DATA/queue.redb, one process].
    #[arg(long, env = "RELAY_STORE", hide_env_values = true)]
    store: Option<String>,
    /// PEM certificate chain (the server's certificate first): serve https and wss instead of
    /// http and ws, on the same listener for every face. Needs --tls-key; SIGHUP reads both
    /// files again for new connections.
    #[arg(
        long,
        env = "RELAY_TLS_CERT",
        requires = "tls_key",
        value_name = "FILE"
    )]
    tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, RSA or EC) of --tls-cert.
    #[arg(
        long,
        env = "RELAY_TLS_KEY",
        requires = "tls_cert",
        value_name = "FILE"
    )]
    tls_key: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics, on a listener of their own, without a
    /// token [default: off; `relay top` reads them through the main listener with the token].
    #[arg(long, env = "RELAY_METRICS_LISTEN", value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    channels: ServeChannelArgs,
}

fn parse_durability(s: &str) -> Result<Durability, String> {
    match s {
        "immediate" => Ok(Durability::Immediate),
        "relaxed" => Ok(Durability::Relaxed),
        _ => Err("expected `immediate` or `relaxed`".into()),
    }
}

/// The default data directory, shared with the commands that read the generated token.
pub(crate) fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .map(|d| d.join("relay"))
        .unwrap_or_else(|| PathBuf::from("relay-data"))
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn listen_addr(args: &ServeArgs) -> anyhow::Result<SocketAddr> {
    if let Some(addr) = args.listen {
        return Ok(addr);
    }
    if let Ok(port) = std::env::var("SCIROCCO_PORT") {
        let port: u16 = port.parse().context("SCIROCCO_PORT is not a port number")?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    Ok(SocketAddr::from(([127, 0, 0, 1], 7720)))
}

/// The queue token given by flag or environment, if any.
fn given_token(args: &ServeArgs) -> anyhow::Result<Option<String>> {
    if let Some(t) = args
        .queue_token
        .clone()
        .or_else(|| std::env::var("SCIROCCO_MASTER_TOKEN").ok())
    {
        if t == "DEFAULT_TOKEN" {
            tracing::warn!("the queue token is the well-known DEFAULT_TOKEN: anyone who can reach this server can use it");
        }
        anyhow::ensure!(!t.is_empty(), "the queue token is empty");
        return Ok(Some(t));
    }
    Ok(None)
}

fn generated_token() -> String {
    (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// The token in a token file, unless the file is missing or blank.
fn token_file(path: &Path) -> Option<String> {
    let t = std::fs::read_to_string(path).ok()?;
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// The queue token: given, or read from (and on first start written to) DATA/queue-token.
fn queue_token(args: &ServeArgs, data: &Path) -> anyhow::Result<String> {
    if let Some(t) = given_token(args)? {
        return Ok(t);
    }
    let path = data.join("queue-token");
    if let Some(t) = token_file(&path) {
        crate::logging::announce(format_args!("queue token is in {}", path.display()));
        return Ok(t);
    }
    let token = generated_token();
    write_private(&path, &token).with_context(|| format!("writing {}", path.display()))?;
    crate::logging::announce(format_args!(
        "generated a queue token; it is in {}",
        path.display()
    ));
    Ok(token)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

fn non_zero_secs(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
}

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<std::process::ExitCode> {
    crate::logging::init();
    if let Some(file) = &args.config {
        crate::logging::announce(format_args!("configuration from {}", file.display()));
    }
    let data = args.data.clone().unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    // A shared queue's token lives in its database, read once the queue is open.
    let token = match postgres_url(&args) {
        Some(_) => given_token(&args)?,
        None => Some(queue_token(&args, &data)?),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(serve(args, data, token))?;
    Ok(std::process::ExitCode::SUCCESS)
}

fn postgres_url(args: &ServeArgs) -> Option<&str> {
    args.store.as_deref().filter(|u| !u.is_empty())
}

async fn serve(mut args: ServeArgs, data: PathBuf, token: Option<String>) -> anyhow::Result<()> {
    // A certificate that cannot be used stops the start, before any store is opened.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(relay_server::TlsConfig::load(cert, key)?),
        _ => None,
    };
    let config = EngineConfig {
        visibility_timeout: non_zero_secs(args.visibility_timeout),
        processed_retention: non_zero_secs(args.processed_retention),
        durability: args.durability,
        // The queue's half of --cache-mb: a quarter for whole records and payloads, a quarter
        // for the store's page cache (see `open_queue`).
        cache_bytes: args.cache_mb.saturating_mul(1 << 20) / 4,
    };
    // The channels' half, which the hub splits the same way (newest messages, page cache).
    args.channels.cache_bytes = args.cache_mb.saturating_mul(1 << 20) / 2;
    let (engine, token) = open_queue(postgres_url(&args), &data, config, token).await?;
    let _maintenance = engine.spawn_maintenance(Duration::from_millis(500));
    crate::serve_metrics::install(args.metrics_listen, engine.clone()).await?;
    let queue = QueueFace {
        queue: engine.clone(),
        config: Arc::new(QueueHttpConfig {
            token,
            limits: BodyLimits {
                json: args.max_json_kb * 1024,
                text: args.max_text_kb * 1024,
                raw: args.max_raw_kb * 1024,
                max_payload: args.max_payload,
            },
            max_list: args.max_list.max(1),
            test_hooks: env_flag("RELAY_TEST_HOOKS") || env_flag("SCIROCCO_TEST_HOOKS"),
        }),
    };

    // Signal handlers exist before anyone is told the server is up, so a SIGTERM sent the
    // moment the address is printed still shuts down cleanly.
    let shutdown = shutdown_signal()?;
    let addr = listen_addr(&args)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    // Bound first, so that a node on PostgreSQL names itself by the address it serves.
    let node = listener.local_addr()?.to_string();
    let mut channels = args.channels.clone();
    if tls.is_some() && channels.forward_to_owner {
        // Forwarding speaks plain HTTP to the owner, which here listens for TLS only.
        tracing::warn!(
            "--forward-to-owner is off on nodes serving TLS themselves: standbys answer 503"
        );
        channels.forward_to_owner = false;
    }
    let (face, owning) =
        channel_cmd::open_face(&channels, &data, postgres_url(&args), &node).await?;
    let app = relay_server::app(relay_server::Faces {
        queue,
        channels: Some(face.clone()),
    });
    if let Some(tls) = &tls {
        // Before "listening on", which tests and scripts wait for and parse: once it is
        // printed, SIGHUP reloads rather than ends the server.
        reload_on_hangup(tls.clone())?;
        crate::logging::announce(format_args!(
            "TLS on (https and wss): certificate {}, key {}; SIGHUP reads them again",
            tls.cert_path().display(),
            tls.key_path().display()
        ));
    }
    let bound = listener.local_addr()?;
    crate::logging::announce(format_args!("listening on {bound}"));
    tracing::info!(
        listen = %bound,
        data = %data.display(),
        store = if postgres_url(&args).is_some() { "postgres" } else { "embedded" },
        durability = ?args.durability,
        cache_mb = args.cache_mb,
        visibility_timeout_s = args.visibility_timeout,
        processed_retention_s = args.processed_retention,
        max_payload = args.max_payload,
        tls = tls.is_some(),
        metrics_listen = ?args.metrics_listen,
        channels_serving = face.hub().is_some(),
        "configuration"
    );
    relay_server::serve_with(listener, app, tls, shutdown).await?;
    engine.flush().await?;
    // A standby has nothing to close; an owner closes its hub cleanly.
    if let Some(task) = owning {
        task.abort();
    }
    if let Some(hub) = face.stand_by("this node is stopping", None) {
        let closing = hub.clone();
        tokio::task::spawn_blocking(move || closing.close())
            .await?
            .map_err(|e| anyhow::anyhow!("closing the channel store: {e}"))?;
        // The sockets were told 1001 "going away"; returning now would end the process before
        // their close frames are out.
        let _ = tokio::time::timeout(SOCKETS_CLOSE_TIMEOUT, async {
            while hub.connection_counts().0 > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    }
    crate::logging::announce(format_args!("stopped"));
    Ok(())
}

/// How long a stop waits for WebSockets to take their close frames.
const SOCKETS_CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// The queue and its token: the shared queue in the PostgreSQL database `--store` names, else
/// the single-node engine on the embedded file.
async fn open_queue(
    url: Option<&str>,
    data: &Path,
    config: EngineConfig,
    token: Option<String>,
) -> anyhow::Result<(Queue, String)> {
    let Some(url) = url else {
        // The store's page cache takes as much as the records' cache.
        let store = RedbStore::open_with_cache(&data.join("queue.redb"), config.cache_bytes)
            .context("opening the queue store")?;
        let engine = Engine::open(Arc::new(store), config)?;
        return Ok((Queue::Local(engine), token.unwrap_or_default()));
    };
    let shared = SharedQueue::open(url, config)
        .await
        .context("opening the PostgreSQL queue store")?;
    crate::logging::announce(format_args!("queue store: {}", shared.location()));
    let token = match token {
        Some(t) => t,
        None => {
            // A token file already there (a node that ran on the embedded store, an operator's
            // choice) seeds the database's token when it has none yet.
            let path = data.join("queue-token");
            let candidate = token_file(&path).unwrap_or_else(generated_token);
            let t = shared.shared_token(&candidate).await?;
            // The copy is for `relay queue`, which looks for the token in the data directory.
            write_private(&path, &t).with_context(|| format!("writing {}", path.display()))?;
            crate::logging::announce(format_args!(
                "the queue token is kept in the database, shared by every node; a copy is in {}",
                path.display()
            ));
            t
        }
    };
    Ok((Queue::Shared(shared), token))
}

/// Reads the certificate and key again on every SIGHUP; a file that cannot be used is logged
/// and the configuration in force kept.
fn reload_on_hangup(tls: relay_server::TlsConfig) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let tls = tls.clone();
            match tokio::task::spawn_blocking(move || tls.reload()).await {
                Ok(Ok(())) => tracing::info!("TLS certificate and key read again"),
                Ok(Err(err)) => {
                    tracing::error!(%err, "TLS reload failed; keeping the certificate in force")
                }
                Err(err) => tracing::error!(%err, "TLS reload failed"),
            }
        }
    });
    Ok(())
}

fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
    })
}
