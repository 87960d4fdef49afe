//! The operator's Unix socket (`<data>/channels/admin.sock`, mode 0600): while `relay serve`
//! holds the store open, `relay account add|list` talk to the running server through it.
//! One JSON request line in, one JSON response line out. Access is the file's permissions.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use relay_channels::Hub;
use serde_json::{json, Value};

use super::ChannelFace;

/// Binds the socket and serves it on a background thread, for whichever hub the face serves
/// at the time of each request (a standby answers each with why it has none).
pub fn spawn(face: ChannelFace, path: &Path) -> std::io::Result<()> {
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    std::thread::Builder::new()
        .name("channel-admin".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                let face = face.clone();
                let _ = std::thread::Builder::new()
                    .name("channel-admin-conn".into())
                    .spawn(move || {
                        if let Err(e) = serve(&face, stream) {
                            tracing::debug!(error = %e, "admin connection ended");
                        }
                    });
            }
        })?;
    Ok(())
}

fn serve(face: &ChannelFace, stream: UnixStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    while reader.read_line(&mut line)? > 0 {
        let reply = match face.serving() {
            Ok(hub) => handle(&hub, &line),
            Err(refused) => json!({"ok": false, "error": refused.message}),
        };
        writeln!(writer, "{reply}")?;
        line.clear();
    }
    Ok(())
}

/// Executes one admin request.
pub fn handle(hub: &Hub, line: &str) -> Value {
    let req: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return json!({"ok": false, "error": format!("bad request: {e}")}),
    };
    let s = |k: &str| req.get(k).and_then(Value::as_str).map(str::to_owned);
    match s("op").as_deref() {
        Some("add_account") => {
            let (Some(email), Some(pw)) = (s("email"), s("password")) else {
                return json!({"ok": false, "error": "email and password are required"});
            };
            match hub.add_account(&email, &pw, s("name").as_deref()) {
                Ok(a) => json!({"ok": true, "account": account_json(&a)}),
                Err(e) => json!({"ok": false, "error": e.to_string()}),
            }
        }
        Some("list_accounts") => {
            json!({"ok": true, "accounts": hub.list_accounts().iter().map(account_json).collect::<Vec<_>>()})
        }
        // Test hook: lets the integration tests check token lifetimes of days in seconds.
        Some("advance_clock") if test_hooks() => match req.get("ms").and_then(Value::as_i64) {
            Some(ms) => match relay_channels::auth::advance_clock_for_tests(ms) {
                Ok(()) => json!({"ok": true}),
                Err(e) => json!({"ok": false, "error": e.to_string()}),
            },
            None => json!({"ok": false, "error": "ms (a non-negative integer) is required"}),
        },
        other => json!({"ok": false, "error": format!("unknown op {other:?}")}),
    }
}

fn test_hooks() -> bool {
    std::env::var("RELAY_TEST_HOOKS").is_ok_and(|v| !v.is_empty() && v != "0")
}

pub fn account_json(a: &relay_channels::model::Account) -> Value {
    json!({"user_id": a.user_id, "email": a.email, "name": a.name, "created_ms": a.created_ms})
}
