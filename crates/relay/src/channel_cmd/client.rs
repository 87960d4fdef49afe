//! `relay channel …`: log in, create, list, join and leave channels, send text and watch a
//! channel from a terminal, through the running server's channel face.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Subcommand;
use relay_client::channel::{
    types::MessageContent, ChannelClient, ChannelHttp, ClientConfig, Login, ResumeFrom, ServerFrame,
};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::say;

#[derive(clap::Args, Clone)]
pub(crate) struct SessionArgs {
    /// Where `relay channel login` keeps the session [default: relay/channel-session.json in the
    /// user's config directory].
    #[arg(long, env = "RELAY_CHANNEL_SESSION", global = true)]
    session: Option<PathBuf>,
}

#[derive(Subcommand)]
pub(crate) enum ChannelClientCommand {
    /// Sign in and remember the session for the other commands.
    Login {
        #[arg(
            long,
            env = "RELAY_CHANNEL_SERVER",
            default_value = "http://127.0.0.1:7720"
        )]
        server: String,
        #[arg(long)]
        email: String,
        #[arg(long, env = "RELAY_CHANNEL_PASSWORD", hide_env_values = true)]
        password: String,
        #[command(flatten)]
        s: SessionArgs,
    },
    /// Create a channel (you become its owner and first member); prints its id.
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        s: SessionArgs,
    },
    /// List the channels you are a member of.
    List {
        #[command(flatten)]
        s: SessionArgs,
    },
    /// Join a channel.
    Join {
        channel: String,
        #[command(flatten)]
        s: SessionArgs,
    },
    /// Leave a channel.
    Leave {
        channel: String,
        #[command(flatten)]
        s: SessionArgs,
    },
    /// Send a text message. Without a bound service it reaches every member; with one, the
    /// service decides.
    Send {
        channel: String,
        text: String,
        /// Address only the channel's service.
        #[arg(long)]
        to_service: bool,
        #[command(flatten)]
        s: SessionArgs,
    },
    /// Print the channel's messages as they arrive (one line each; --json for raw frames).
    Watch {
        channel: String,
        /// First replay what arrived after this offset.
        #[arg(long)]
        after: Option<u64>,
        /// Exit after this many messages (at least 1).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        s: SessionArgs,
    },
}

struct Session {
    server: String,
    email: String,
    user_id: String,
    access_token: String,
    refresh_token: String,
}

fn session_path(s: &SessionArgs) -> PathBuf {
    s.session.clone().unwrap_or_else(|| {
        dirs::config_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("relay")
            .join("channel-session.json")
    })
}

fn load(s: &SessionArgs) -> anyhow::Result<Session> {
    let p = session_path(s);
    let text = std::fs::read_to_string(&p).with_context(|| {
        format!(
            "no session in {}; run `relay channel login` first",
            p.display()
        )
    })?;
    let v: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a session file", p.display()))?;
    let field = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("{} lacks {k}", p.display()))
    };
    Ok(Session {
        server: field("server")?,
        email: field("email")?,
        user_id: field("user_id")?,
        access_token: field("access_token")?,
        refresh_token: field("refresh_token")?,
    })
}

fn save(s: &SessionArgs, session: &Session) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let p = session_path(s);
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&p)?;
    let v = json!({
        "server": session.server,
        "email": session.email,
        "user_id": session.user_id,
        "access_token": session.access_token,
        "refresh_token": session.refresh_token,
    });
    f.write_all(serde_json::to_string_pretty(&v)?.as_bytes())?;
    Ok(())
}

fn http(session: &Session) -> anyhow::Result<ChannelHttp> {
    let mut h = ChannelHttp::new(&session.server)?;
    h.access_token = Some(session.access_token.clone());
    Ok(h)
}

fn ws_url(server: &str) -> String {
    let base = server.trim_end_matches('/');
    let base = base
        .strip_prefix("https://")
        .map(|r| format!("wss://{r}"))
        .or_else(|| base.strip_prefix("http://").map(|r| format!("ws://{r}")))
        .unwrap_or_else(|| base.to_owned());
    format!("{base}/ws")
}

/// A logged-in socket plus a stream of what it receives.
async fn open_socket(
    session: &Session,
) -> anyhow::Result<(ChannelClient, mpsc::UnboundedReceiver<ServerFrame>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let cfg = ClientConfig::new(
        ws_url(&session.server),
        Login::User {
            access_token: session.access_token.clone(),
        },
    );
    let client = ChannelClient::connect(
        cfg,
        Box::new(move |f| tx.send(f).map_err(|e| e.to_string().into())),
    );
    client
        .wait_logged_in(1, Duration::from_secs(15))
        .await
        .context("logging in on the channel socket")?;
    Ok((client, rx))
}

/// Waits for the copy acknowledging `rid` and turns a refusal into an error.
async fn acked(
    rx: &mut mpsc::UnboundedReceiver<ServerFrame>,
    rid: &str,
) -> anyhow::Result<ServerFrame> {
    let wait = async {
        while let Some(f) = rx.recv().await {
            if let Some((r, ok)) = f.ack() {
                if r == rid {
                    if !ok {
                        bail!(
                            "refused: {}",
                            f.body
                                .pointer("/context/message")
                                .and_then(Value::as_str)
                                .unwrap_or("no reason given")
                        );
                    }
                    return Ok(f);
                }
            }
        }
        bail!("connection closed")
    };
    tokio::time::timeout(Duration::from_secs(15), wait)
        .await
        .context("no acknowledgement within 15 s")?
}

fn line(f: &ServerFrame) -> Option<String> {
    match f.kind.as_str() {
        "message_down" => {
            let sender = f.body.get("sender").and_then(Value::as_str).unwrap_or("?");
            let content = f.body.get("content").cloned().unwrap_or(json!({}));
            let text = content
                .get("text")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| content.to_string());
            Some(format!(
                "#{} {sender}: {text}",
                f.offset
                    .map(|o| o.to_string())
                    .unwrap_or_else(|| "-".into())
            ))
        }
        "update" => Some(format!("[update {}]", f.subtype().unwrap_or("?"))),
        _ => None,
    }
}

/// Where a watch is in the channel's log: the log (epoch) it follows, the first offset it has
/// not seen (where a resume after a reconnect starts) and the offsets it has shown lately (the
/// most recent 10,000). A new epoch means a new log, whose offsets start over.
#[derive(Debug, Default)]
struct Position {
    epoch: Option<String>,
    next: Option<u64>,
    shown: BTreeSet<u64>,
}

impl Position {
    /// Without `after` the start is unknown until the server says where the log ends.
    fn after(after: Option<u64>) -> Self {
        Self {
            next: after.map(|o| o.saturating_add(1)),
            ..Self::default()
        }
    }

    fn follow(&mut self, epoch: Option<&str>) {
        match (self.epoch.as_deref(), epoch) {
            (Some(known), Some(e)) if known != e => {
                *self = Self {
                    epoch: Some(e.to_owned()),
                    ..Self::default()
                }
            }
            (None, Some(e)) => self.epoch = Some(e.to_owned()),
            _ => {}
        }
    }

    /// Everything before `next` has reached the watch. Never moves back: a resume's copy can
    /// arrive after newer messages.
    fn reached(&mut self, next: u64, epoch: Option<&str>) {
        self.follow(epoch);
        self.next = Some(self.next.map_or(next, |n| n.max(next)));
    }

    /// A message at `offset` arrived; true the first time. After a reconnect a message can reach
    /// the new socket live and again in the replay its resume asks for, since the server
    /// replays the log from the asked offset on.
    fn first_sight(&mut self, offset: u64, epoch: Option<&str>) -> bool {
        self.reached(offset.saturating_add(1), epoch);
        let first = self.shown.insert(offset);
        if self.shown.len() > 10_000 {
            self.shown.pop_first();
        }
        first
    }
}

pub(super) fn run(cmd: ChannelClientCommand) -> anyhow::Result<std::process::ExitCode> {
    tokio::runtime::Runtime::new()?.block_on(run_async(cmd))?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn run_async(cmd: ChannelClientCommand) -> anyhow::Result<()> {
    match cmd {
        ChannelClientCommand::Login {
            server,
            email,
            password,
            s,
        } => {
            let mut h = ChannelHttp::new(&server)?;
            let (access_token, refresh_token) = h.sign_in(&email, &password).await?;
            let user_id = h.user_id().await?;
            save(
                &s,
                &Session {
                    server,
                    email,
                    user_id: user_id.clone(),
                    access_token,
                    refresh_token,
                },
            )?;
            say(format_args!("logged in as {user_id}"))?;
        }
        ChannelClientCommand::Create {
            name,
            description,
            s,
        } => {
            let session = load(&s)?;
            say(http(&session)?.create_channel(&name, &description).await?)?;
        }
        ChannelClientCommand::List { s } => {
            let session = load(&s)?;
            for c in http(&session)?.channels().await? {
                say(format_args!(
                    "{}  {}",
                    c["channel_id"].as_str().unwrap_or(""),
                    c["channel_name"].as_str().unwrap_or("")
                ))?;
            }
        }
        ChannelClientCommand::Join { channel, s } => {
            let session = load(&s)?;
            let (client, mut rx) = open_socket(&session).await?;
            let rid = client.join_channel(&channel).send()?;
            acked(&mut rx, &rid).await?;
            client.close().await;
            say(format_args!("joined {channel}"))?;
        }
        ChannelClientCommand::Leave { channel, s } => {
            let session = load(&s)?;
            let (client, mut rx) = open_socket(&session).await?;
            let rid = client.leave_channel(&channel).send()?;
            acked(&mut rx, &rid).await?;
            client.close().await;
            say(format_args!("left {channel}"))?;
        }
        ChannelClientCommand::Send {
            channel,
            text,
            to_service,
            s,
        } => {
            let session = load(&s)?;
            let recipients = if to_service {
                "service".to_owned()
            } else {
                let h = http(&session)?;
                let members = h.members(&channel).await?;
                h.create_user_group(&channel, &members).await?
            };
            let (client, mut rx) = open_socket(&session).await?;
            let rid = client
                .message_up(&channel, &recipients, "text", &MessageContent::text(text))
                .send()?;
            acked(&mut rx, &rid).await?;
            client.close().await;
        }
        ChannelClientCommand::Watch {
            channel,
            after,
            count,
            json,
            s,
        } => {
            let session = load(&s)?;
            let (client, mut rx) = open_socket(&session).await?;
            // The first offset not yet seen in this channel, so that after a reconnect (another
            // login of the same account takes the socket over, the server restarts) the watch
            // asks for what it missed instead of silently skipping it. Without --after it starts
            // at the end of the log, which the first resume's copy tells.
            let mut position = Position::after(after);
            let start = client
                .resume(
                    &channel,
                    None,
                    after.map_or(ResumeFrom::End, ResumeFrom::After),
                )
                .send()?;
            // Watching for real once that first resume is answered: from then on a takeover of
            // the socket loses nothing.
            let mut started = false;
            let mut seen = 0u64;
            let mut logins = 1;
            loop {
                let f = tokio::select! {
                    f = rx.recv() => match f { Some(f) => f, None => break },
                    relogged = client.wait_logged_in(logins + 1, Duration::MAX) => {
                        relogged?;
                        logins += 1;
                        match position.next {
                            Some(offset) => {
                                client.resume(&channel, position.epoch.as_deref(), ResumeFrom::At(offset)).send()?;
                            }
                            None => eprintln!("note: reconnected before the server said where the channel's log ends; messages sent meanwhile are not replayed"),
                        }
                        continue;
                    }
                    _ = tokio::signal::ctrl_c() => break,
                };
                if f.body
                    .get("channel_id")
                    .and_then(Value::as_str)
                    .is_some_and(|c| c != channel)
                {
                    continue;
                }
                if f.offset
                    .is_some_and(|offset| !position.first_sight(offset, f.epoch.as_deref()))
                {
                    continue;
                }
                if f.kind == "copy" {
                    if let Some((rid, ok)) = f.ack().filter(|(rid, _)| !started && *rid == start) {
                        if !ok {
                            bail!(
                                "refused: {}",
                                f.body
                                    .pointer("/context/message")
                                    .and_then(Value::as_str)
                                    .unwrap_or(rid)
                            );
                        }
                        started = true;
                        eprintln!("watching {channel} (Ctrl-C to stop)");
                    }
                    let ctx = f.body.get("context");
                    if let Some(end) = ctx
                        .and_then(|c| c.get("next_offset"))
                        .and_then(Value::as_u64)
                    {
                        position.reached(
                            end,
                            ctx.and_then(|c| c.get("epoch")).and_then(Value::as_str),
                        );
                        if ctx.and_then(|c| c.get("more")).and_then(Value::as_bool) == Some(true) {
                            // A replay comes in pieces; ask for the next one.
                            client
                                .resume(&channel, position.epoch.as_deref(), ResumeFrom::At(end))
                                .send()?;
                        }
                    }
                    if let Some(true) = ctx.and_then(|c| c.get("gap")).and_then(Value::as_bool) {
                        eprintln!(
                            "note: {}",
                            ctx.and_then(|c| c.get("message"))
                                .and_then(Value::as_str)
                                .unwrap_or("some messages could not be replayed")
                        );
                    }
                    continue;
                }
                if json {
                    say(&f.raw)?;
                } else if let Some(l) = line(&f) {
                    say(l)?;
                }
                if f.kind == "message_down" {
                    seen += 1;
                    if count.is_some_and(|c| seen >= c) {
                        break;
                    }
                }
            }
            client.close().await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Position;

    #[test]
    fn the_resume_point_never_moves_back_within_a_log() {
        let mut p = Position::after(Some(4));
        assert_eq!(p.next, Some(5));
        assert!(p.first_sight(9, Some("e1")));
        p.reached(7, Some("e1"));
        assert_eq!((p.next, p.epoch.as_deref()), (Some(10), Some("e1")));
    }

    #[test]
    fn a_message_is_shown_once_per_log() {
        let mut p = Position::after(None);
        assert!(p.first_sight(3, Some("e1")));
        assert!(!p.first_sight(3, Some("e1")));
        // A recreated store: its offsets start over.
        assert!(p.first_sight(3, Some("e2")));
        assert_eq!((p.next, p.epoch.as_deref()), (Some(4), Some("e2")));
        p.reached(1, Some("e3"));
        assert_eq!(p.next, Some(1));
    }
}
