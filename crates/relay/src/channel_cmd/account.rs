//! `relay account add|list`. With the server stopped they open the store directly; while
//! `relay serve` holds it, they go through the server's admin socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use relay_channels::{Hub, HubConfig, HubError};
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
    },
    /// List accounts.
    List {
        #[arg(long, env = "RELAY_DATA")]
        data: Option<PathBuf>,
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
        } => {
            let req =
                json!({"op": "add_account", "email": email, "password": password, "name": name});
            let reply = call(&data_dir(data), req)?;
            let a = &reply["account"];
            say(format_args!(
                "created account {} (user id {})",
                a["email"].as_str().unwrap_or(""),
                a["user_id"].as_str().unwrap_or("")
            ))?;
        }
        AccountCommand::List { data, json } => {
            let reply = call(&data_dir(data), json!({"op": "list_accounts"}))?;
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
fn call(dir: &Path, req: Value) -> anyhow::Result<Value> {
    let reply = match Hub::open(dir, HubConfig::default()) {
        Ok(hub) => {
            let r = relay_server::channel::admin::handle(&hub, &req.to_string());
            hub.close().map_err(|e| anyhow::anyhow!("{e}"))?;
            r
        }
        Err(HubError::Locked) => via_socket(&dir.join("admin.sock"), &req, ADMIN_REPLY_TIMEOUT)?,
        Err(e) => anyhow::bail!("opening the channel store in {}: {e}", dir.display()),
    };
    if reply["ok"].as_bool() != Some(true) {
        anyhow::bail!("{}", reply["error"].as_str().unwrap_or("request failed"));
    }
    Ok(reply)
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
