//! `relay queue …`: the queue face's command line, a thin shell over `relay_client::queue`.
//!
//! Every subcommand acts as one node (`--node`) against one server (`--url`). Output is
//! readable by default; `--json` prints one JSON document instead. Exit status: 0 on success,
//! 1 on any error (the message names the cause: wrong token, not found, the server's 400
//! message…), 2 on a usage error, and 3 when `pull` finds nothing pending.

mod connect;
mod input;
mod output;

use std::process::ExitCode;

use clap::{Args, Subcommand};
use relay_client::queue::{PushOptions, QueueClient};
use serde_json::json;

pub(crate) use connect::find_token;
use connect::Connection;
use input::{parse_at, read_payload, PayloadType};

/// `pull` found nothing to deliver. Distinct from errors so that a script can loop
/// `while relay queue pull …; do …; done` and stop when the inbox is empty.
pub(crate) const EXIT_EMPTY: u8 = 3;

#[derive(Subcommand)]
pub(crate) enum QueueCommand {
    /// Push a message to a node's inbox.
    Push(PushArgs),
    /// Take the oldest due message from this node's inbox (it becomes `processing`).
    ///
    /// Exits with status 3 and prints nothing (`null` with --json) when nothing is pending.
    Pull(PullArgs),
    /// Confirm a pulled message (it becomes `processed`).
    Ack(IdArgs),
    /// Show one message this node sent or received.
    Get(IdArgs),
    /// List the messages this node sent or received, oldest first.
    List(ListArgs),
    /// Replace the payload of a message this node sent that is still pending or scheduled.
    Update(UpdateArgs),
    /// Delete a message this node sent that is still pending or scheduled, or all of them.
    Delete(DeleteArgs),
}

#[derive(Args)]
pub(crate) struct PushArgs {
    /// The destination node's id (hexadecimal); a node can push to itself.
    #[arg(long = "to", value_name = "NODE")]
    destination: String,
    /// The payload: literal text, `-` to read stdin, or `@FILE` to read a file.
    payload: String,
    /// How to send the payload; `auto` sends JSON objects/arrays as JSON, other UTF-8 as text
    /// and anything else as bytes.
    #[arg(long = "type", value_enum, default_value_t = PayloadType::Auto)]
    kind: PayloadType,
    /// A type label to store with the message (1 to 30 characters); defaults to the content type.
    #[arg(long)]
    label: Option<String>,
    /// Deliver no earlier than this: +30s, +5m, +2h, +1d, epoch milliseconds or ISO-8601
    /// (a time without zone is UTC).
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    #[command(flatten)]
    out: Output,
    #[command(flatten)]
    conn: Connection,
}

#[derive(Args)]
pub(crate) struct PullArgs {
    #[command(flatten)]
    out: Output,
    #[command(flatten)]
    conn: Connection,
}

#[derive(Args)]
pub(crate) struct IdArgs {
    /// The message id (24 hexadecimal characters).
    id: String,
    #[command(flatten)]
    out: Output,
    #[command(flatten)]
    conn: Connection,
}

#[derive(Args)]
pub(crate) struct ListArgs {
    /// At most this many messages (the server caps it, 100 by default).
    #[arg(long)]
    limit: Option<u32>,
    /// Print a JSON array.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    conn: Connection,
}

#[derive(Args)]
pub(crate) struct UpdateArgs {
    /// The message id (24 hexadecimal characters).
    id: String,
    /// The new payload: literal text, `-` to read stdin, or `@FILE` to read a file.
    payload: String,
    /// How to send the payload (see `push`).
    #[arg(long = "type", value_enum, default_value_t = PayloadType::Auto)]
    kind: PayloadType,
    #[command(flatten)]
    out: Output,
    #[command(flatten)]
    conn: Connection,
}

#[derive(Args)]
pub(crate) struct DeleteArgs {
    /// The message id; omit it and pass --all to delete every message this node may delete.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    id: Option<String>,
    /// Delete all of this node's pending and scheduled outgoing messages.
    #[arg(long)]
    all: bool,
    /// Print `{"n": COUNT}`.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    conn: Connection,
}

/// Output choices shared by the commands that print one message.
#[derive(Args)]
struct Output {
    /// Print the message as one JSON object.
    #[arg(long, conflicts_with = "payload_only")]
    json: bool,
    /// Print only the payload: JSON on one line, text as is, binary decoded to raw bytes.
    #[arg(long)]
    payload_only: bool,
}

pub(crate) fn run(cmd: QueueCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(cmd))
}

async fn run_async(cmd: QueueCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        QueueCommand::Push(a) => {
            let client = a.conn.client().await?;
            let payload = read_payload(&a.payload, a.kind)?;
            let scheduled_at =
                a.at.as_deref()
                    .map(|t| parse_at(t, chrono::Utc::now()))
                    .transpose()?;
            let options = PushOptions {
                label: a.label,
                scheduled_at,
            };
            let msg = client.push_with(&a.destination, payload, &options).await?;
            // The echo of what was just sent is noise in the readable form.
            print_message(&msg, &a.out, false)?;
        }
        QueueCommand::Pull(a) => {
            let client = a.conn.client().await?;
            match client.pull().await? {
                Some(msg) => print_message(&msg, &a.out, true)?,
                None => {
                    if a.out.json {
                        output::say("null")?;
                    }
                    return Ok(ExitCode::from(EXIT_EMPTY));
                }
            }
        }
        QueueCommand::Ack(a) => {
            let msg = a.conn.client().await?.ack(&a.id).await?;
            print_message(&msg, &a.out, true)?;
        }
        QueueCommand::Get(a) => {
            let msg = a.conn.client().await?.get(&a.id).await?;
            print_message(&msg, &a.out, true)?;
        }
        QueueCommand::List(a) => {
            let items = a.conn.client().await?.get_all(a.limit).await?;
            if a.json {
                let list: Vec<_> = items.iter().map(output::message_json).collect();
                output::say(serde_json::Value::Array(list))?;
            } else if !items.is_empty() {
                output::write_stdout(output::list_text(&items).as_bytes())?;
            }
        }
        QueueCommand::Update(a) => {
            let client = a.conn.client().await?;
            let payload = read_payload(&a.payload, a.kind)?;
            let msg = client.update(&a.id, payload).await?;
            print_message(&msg, &a.out, true)?;
        }
        QueueCommand::Delete(a) => {
            let client: QueueClient = a.conn.client().await?;
            let deleted = match &a.id {
                Some(id) => client.delete(id).await?,
                None => client.delete_all().await?,
            };
            if a.json {
                output::say(json!({ "n": deleted.n }))?;
            } else {
                output::say(format_args!(
                    "deleted {} message{}",
                    deleted.n,
                    if deleted.n == 1 { "" } else { "s" }
                ))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_message(
    msg: &relay_client::queue::QueueMessage,
    out: &Output,
    with_payload: bool,
) -> anyhow::Result<()> {
    if out.json {
        output::say(output::message_json(msg))?;
    } else if out.payload_only {
        output::write_stdout(&output::payload_raw(&msg.data)?)?;
    } else {
        output::write_stdout(output::message_text(msg, with_payload).as_bytes())?;
    }
    Ok(())
}
