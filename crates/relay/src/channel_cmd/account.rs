//! `relay account add|list`. With the server stopped they open the store directly; while
//! `relay serve` holds it, they go through the server's admin socket. With `--store
//! postgres://…` the same holds for the node that owns the channel state: on this machine
//! its admin socket (named in the owner record), on another machine a refusal naming it.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use relay_channels::{Hub, HubConfig, HubError, OwnerInfo, PostgresError};
use serde_json::{json, Value};

use super::say;

#[derive(Subcommand)]
pub(crate) enum AccountCommand {
    /// Create an account (the e-mail is the login name).
    Add {
        email: String,
        #[arg(long, env = "RELAY_ACCOUNT_PASSWORD", hide_env_values = true)]
        password: String,
        /// Display name [default: the part of the e-mail before @].
        #[arg(long)]
        name: Option<String>,
        /// Data directory of the server.
        #[arg(long, env = "RELAY_DATA")]
        data: Option<PathBuf>,
        /// The PostgreSQL store `relay serve --store` uses, when the channel state is there.
        #[arg(long, env = "RELAY_STORE", hide_env_values = true)]
        store: Option<String>,
    },
    /// List accounts.
    List {
        #[arg(long, env = "RELAY_DATA")]
        data: Option<PathBuf>,
        /// The PostgreSQL store `relay serve --store` uses, when the channel state is there.
        #[arg(long, env = "RELAY_STORE", hide_env_values = true)]
        store: Option<String>,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn run(cmd: AccountCommand) -> anyhow::Result<std::process::ExitCode> {
    match cmd {
        AccountCommand::Add {
            email,
            password,
            name,
            data,
            store,
        } => {
            let req =
                json!({"op": "add_account", "email": email, "password": password, "name": name});
            let reply = call(&data_dir(data), store.as_deref(), req)?;
            let a = &reply["account"];
            say(format_args!(
                "created account {} (user id {})",
                a["email"].as_str().unwrap_or(""),
                a["user_id"].as_str().unwrap_or("")
            ))?;
        }
        AccountCommand::List { data, store, json } => {
            let reply = call(
                &data_dir(data),
                store.as_deref(),
                json!({"op": "list_accounts"}),
            )?;
            let accounts = reply["accounts"].as_array().cloned().unwrap_or_default();
            if json {
                for a in &accounts {
                    say(a)?;
                }
            } else {
                say(format_args!("{:<36}  {:<32}  NAME", "USER ID", "EMAIL"))?;
                for a in &accounts {
                    say(format_args!(
                        "{:<36}  {:<32}  {}",
                        a["user_id"].as_str().unwrap_or(""),
                        a["email"].as_str().unwrap_or(""),
                        a["name"].as_str().unwrap_or("")
                    ))?;
                }
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn data_dir(data: Option<PathBuf>) -> PathBuf {
    super::channels_dir(&data.unwrap_or_else(super::default_data_dir))
}

/// Runs one admin request against the store directly, or through the running server.
fn call(dir: &Path, store: Option<&str>, req: Value) -> anyhow::Result<Value> {
    let reply = match store.filter(|s| !s.is_empty()) {
        Some(url) => call_postgres(dir, url, &req)?,
        None => call_redb(dir, &req)?,
    };
    if reply["ok"].as_bool() != Some(true) {
        anyhow::bail!("{}", reply["error"].as_str().unwrap_or("request failed"));
    }
    Ok(reply)
}

fn call_redb(dir: &Path, req: &Value) -> anyhow::Result<Value> {
    Ok(match Hub::open(dir, HubConfig::default()) {
        Ok(hub) => {
            let r = relay_server::channel::admin::handle(&hub, &req.to_string());
            hub.close().map_err(|e| anyhow::anyhow!("{e}"))?;
            r
        }
        Err(HubError::Locked) => via_socket(&dir.join("admin.sock"), req, ADMIN_REPLY_TIMEOUT)?,
        Err(e) => anyhow::bail!("opening the channel store in {}: {e}", dir.display()),
    })
}

/// With the channel state in PostgreSQL: opens it directly when no node owns it, else goes
/// through the owner's admin socket if the owner runs on this machine.
fn call_postgres(dir: &Path, url: &str, req: &Value) -> anyhow::Result<Value> {
    let me = OwnerInfo::this_process("relay account", None);
    match Hub::open_postgres_as(url, &dir.join("files"), HubConfig::default(), me) {
        Ok(hub) => {
            let r = relay_server::channel::admin::handle(&hub, &req.to_string());
            hub.close().map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(r)
        }
        Err(HubError::Postgres(e @ PostgresError::Owned { .. })) => {
            let owner = match &e {
                PostgresError::Owned { owner, .. } => owner.clone(),
                _ => None,
            };
            let described = e.owner_description().unwrap_or_default();
            let here = owner.filter(|o| o.host == relay_channels::host_name());
            match here.as_deref() {
                Some(OwnerInfo {
                    admin_socket: Some(socket),
                    ..
                }) => via_socket(Path::new(socket), req, ADMIN_REPLY_TIMEOUT)
                    .with_context(|| format!("the channel state is served by {described}")),
                Some(_) => anyhow::bail!(
                    "the channel state is held by another process on this machine ({described}) \
                     that takes no admin requests; try again once it is done"
                ),
                None => anyhow::bail!(
                    "the channel state is served by a node on another machine ({described}); \
                     run this command there"
                ),
            }
        }
        Err(e) => Err(anyhow::Error::new(e).context("opening the channel state in PostgreSQL")),
    }
}

/// How long the running server may take to answer (an `add` hashes a password: well under a
/// second), so that a server that hangs does not hang the command too.
const ADMIN_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

fn via_socket(path: &Path, req: &Value, within: Duration) -> anyhow::Result<Value> {
    let mut stream = UnixStream::connect(path).with_context(|| {
        format!(
            "the store is in use but the server's admin socket {} is not reachable",
            path.display()
        )
    })?;
    stream.set_read_timeout(Some(within))?;
    stream.set_write_timeout(Some(within))?;
    writeln!(stream, "{req}")?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .with_context(|| {
            format!(
                "no answer from the server's admin socket {} within {within:?}",
                path.display()
            )
        })?;
    serde_json::from_str(&line).context("the server's admin reply is not JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_that_never_answers_is_given_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let t0 = std::time::Instant::now();
        let err =
            via_socket(&path, &json!({"op": "list"}), Duration::from_millis(300)).unwrap_err();
        assert!(
            format!("{err:#}").contains("no answer from the server's admin socket"),
            "{err:#}"
        );
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    }
}
