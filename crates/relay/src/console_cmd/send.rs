//! Talking to the instance the way the `moulti` CLI does: exit status 0 on `done: true`,
//! otherwise `Something went wrong: <error>` on stderr and status 1.

use relay_client::console::{
    connect, recv_json_message, send_json_message, Connection, ConsoleClientError,
};
use relay_wire::error_chain::ErrorChain;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::ExitCode;

fn msgid() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

fn with_msgid(mut m: Map<String, Value>) -> (String, Value) {
    let id = msgid();
    m.insert("msgid".into(), id.clone().into());
    (id, Value::Object(m))
}

fn report(reply: &Value) -> ExitCode {
    if reply.get("done") == Some(&Value::Bool(true)) {
        return ExitCode::SUCCESS;
    }
    match reply.get("error").and_then(Value::as_str) {
        Some(e) => eprintln!("Something went wrong: {e}"),
        None => eprintln!("Something went wrong: alas, no error message was provided."),
    }
    ExitCode::FAILURE
}

fn fail(e: ConsoleClientError) -> ExitCode {
    eprintln!("relay: {}", ErrorChain(&e));
    ExitCode::FAILURE
}

fn exchange(
    conn: &mut Connection,
    m: Map<String, Value>,
    fds: &[std::os::fd::BorrowedFd<'_>],
) -> Result<Value, ConsoleClientError> {
    let (_, msg) = with_msgid(m);
    send_json_message(conn, &msg, fds)?;
    recv_json_message(conn)
}

/// One message, one reply.
pub(super) fn one(m: Map<String, Value>) -> ExitCode {
    match connect().and_then(|mut c| exchange(&mut c, m, &[])) {
        Ok(reply) => report(&reply),
        Err(e) => fail(e),
    }
}

/// `get-answer`: prints the answer when there is one.
pub(super) fn get_answer(m: Map<String, Value>) -> ExitCode {
    match connect().and_then(|mut c| exchange(&mut c, m, &[])) {
        Ok(reply) => {
            if let Some(a) = reply.get("answer").and_then(Value::as_str) {
                println!("{a}");
            }
            report(&reply)
        }
        Err(e) => fail(e),
    }
}

/// One `delete` per id, pipelined on one connection.
pub(super) fn delete(command: &str, ids: &[String]) -> ExitCode {
    let messages = ids.iter().map(|id| {
        let mut m = Map::new();
        m.insert("id".into(), id.clone().into());
        m.insert("command".into(), command.into());
        m.insert("action".into(), "delete".into());
        (m, None)
    });
    match pipeline(messages.collect()) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => fail(e),
    }
}

/// Sends every message (with its optional descriptor) before reading replies, matched by
/// msgid; returns how many failed.
fn pipeline(
    messages: Vec<(Map<String, Value>, Option<OwnedFd>)>,
) -> Result<usize, ConsoleClientError> {
    let mut conn = connect()?;
    let mut pending = HashMap::new();
    for (m, fd) in messages {
        let (id, msg) = with_msgid(m);
        match &fd {
            Some(fd) => send_json_message(&mut conn, &msg, &[fd.as_fd()])?,
            None => send_json_message(&mut conn, &msg, &[])?,
        }
        pending.insert(id, fd);
    }
    let mut failures = 0;
    while !pending.is_empty() {
        let reply = recv_json_message(&mut conn)?;
        let id = reply
            .get("msgid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if pending.remove(&id).is_none() {
            continue;
        }
        // Pipelined commands report like the reference's pipeline: `Error: <error>`.
        if reply.get("done") != Some(&Value::Bool(true)) {
            eprintln!(
                "Error: {}",
                reply.get("error").map_or_else(
                    || "None".to_string(),
                    |e| e.as_str().map_or_else(|| e.to_string(), str::to_string)
                )
            );
            failures += 1;
        }
    }
    Ok(failures)
}

/// Sends messages pipelined (as `diff` and `manpage` do); failures are reported on stderr.
pub(super) fn pipeline_messages(messages: Vec<Map<String, Value>>) -> ExitCode {
    match pipeline(messages.into_iter().map(|m| (m, None)).collect()) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// `pass`: clear (unless appending), then pass standard input; returns once the instance has
/// read it all.
pub(super) fn pass(id: &str, clear: bool, read_size: i64) -> ExitCode {
    let run = || -> Result<ExitCode, ConsoleClientError> {
        let mut conn = connect()?;
        if clear {
            let mut m = Map::new();
            m.insert("command".into(), "step".into());
            m.insert("action".into(), "clear".into());
            m.insert("id".into(), id.into());
            let reply = exchange(&mut conn, m, &[])?;
            if reply.get("done") != Some(&Value::Bool(true)) {
                return Ok(report(&reply));
            }
        }
        let mut m = Map::new();
        m.insert("command".into(), "pass".into());
        m.insert("id".into(), id.into());
        m.insert("read_size".into(), read_size.into());
        let stdin = std::io::stdin();
        let reply = exchange(&mut conn, m, &[stdin.as_fd()])?;
        Ok(report(&reply))
    };
    run().unwrap_or_else(fail)
}

/// `wait`: ping until the instance answers.
pub(super) fn wait(verbose: bool, delay_ms: u64, max_attempts: u64) -> ExitCode {
    let mut attempt = 0u64;
    loop {
        attempt += 1;
        let mut m = Map::new();
        m.insert("command".into(), "ping".into());
        match connect().and_then(|mut c| exchange(&mut c, m, &[])) {
            Ok(r) if r.get("done") == Some(&Value::Bool(true)) => return ExitCode::SUCCESS,
            Ok(r) => {
                if verbose {
                    eprintln!(
                        "Connection #{attempt}: {}",
                        r.get("error")
                            .and_then(Value::as_str)
                            .unwrap_or("no error message")
                    );
                }
            }
            Err(e) => {
                if verbose {
                    let address =
                        relay_client::console::resolve_address(&|k| std::env::var(k).ok())
                            .printable();
                    // The line names the address already: of "no instance" only the cause is
                    // news, and the reference too prints only its socket error here.
                    let why = match &e {
                        ConsoleClientError::NoInstance { source, .. } => ErrorChain(source),
                        other => ErrorChain(other),
                    };
                    println!("Connection #{attempt} to {address}: {why}");
                }
            }
        }
        if max_attempts > 0 && attempt >= max_attempts {
            println!("Giving up.");
            return ExitCode::FAILURE;
        }
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
    }
}

/// `load DIR`: replays a Save directory; the exit status is the number of failed messages.
pub(super) fn load(dir: &Path) -> ExitCode {
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.to_string_lossy().ends_with(".properties.json"))
            .collect(),
        Err(e) => {
            eprintln!("relay: cannot read {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    files.sort();
    let mut messages = Vec::new();
    for file in files {
        let data: Value = match std::fs::read(&file)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => {
                eprintln!("relay: {}: {e}", file.display());
                return ExitCode::FAILURE;
            }
        };
        let Value::Object(m) = data else { continue };
        let id = m.get("id").and_then(Value::as_str).map(str::to_string);
        messages.push((m, None));
        let name = file.to_string_lossy();
        let log = std::path::PathBuf::from(format!(
            "{}.contents.log",
            &name[..name.len() - ".properties.json".len()]
        ));
        if let (Some(id), true) = (id, log.is_file()) {
            if let Ok(f) = std::fs::File::open(&log) {
                let mut p = Map::new();
                p.insert("command".into(), "pass".into());
                p.insert("id".into(), id.into());
                p.insert("read_size".into(), (1024 * 1024).into());
                messages.push((p, Some(OwnedFd::from(f))));
            }
        }
    }
    match pipeline(messages) {
        Ok(n) => ExitCode::from(n.min(255) as u8),
        Err(e) => fail(e),
    }
}
