//! Relay's side: accounts, the channel and its members over HTTP, and its user sockets.

use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use super::ws::Ws;

pub(crate) struct RelaySetup {
    pub(crate) http: String,
    pub(crate) owner_token: String,
    pub(crate) service_id: String,
    pub(crate) channel_id: String,
    pub(crate) users: Vec<(String, String)>, // (user_id, token)
}

pub(crate) async fn post(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: Value,
) -> anyhow::Result<Value> {
    let mut r = http.post(url).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let v: Value = r.send().await?.json().await?;
    if v["code"] != 10000 {
        bail!("{url}: {v}");
    }
    Ok(v["data"].clone())
}

pub(crate) async fn get(http: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<Value> {
    let v: Value = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    if v["code"] != 10000 {
        bail!("{url}: {v}");
    }
    Ok(v["data"].clone())
}

pub(crate) async fn account(
    http: &reqwest::Client,
    base: &str,
    email: String,
) -> anyhow::Result<(String, String)> {
    let pw = "bench-password";
    let _ = post(
        http,
        &format!("{base}/auth/sign_up"),
        None,
        json!({"username": email, "password": pw}),
    )
    .await;
    let d = post(
        http,
        &format!("{base}/auth/sign_in"),
        None,
        json!({"username": email, "password": pw}),
    )
    .await?;
    let token = d["AuthenticationResult"]["AccessToken"]
        .as_str()
        .context("no token")?
        .to_owned();
    let uid = get(http, &format!("{base}/user/info"), &token).await?["user_id"]
        .as_str()
        .context("no user id")?
        .to_owned();
    Ok((uid, token))
}

pub(crate) async fn relay_setup(base: &str, users: usize) -> anyhow::Result<RelaySetup> {
    let http = reqwest::Client::new();
    let (_, owner_token) = account(&http, base, "bench-owner@example.com".into()).await?;
    let service_id = post(
        &http,
        &format!("{base}/service/create"),
        Some(&owner_token),
        json!({"description": "bench"}),
    )
    .await?["service_id"]
        .as_str()
        .context("sid")?
        .to_owned();
    let channel_id = post(
        &http,
        &format!("{base}/channel/create"),
        Some(&owner_token),
        json!({"channel_name": "bench", "context": {}}),
    )
    .await?["channel_id"]
        .as_str()
        .context("ch")?
        .to_owned();
    post(
        &http,
        &format!("{base}/service/bind"),
        Some(&owner_token),
        json!({"channel_id": channel_id, "service_id": service_id}),
    )
    .await?;
    let mut out = Vec::with_capacity(users);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..users {
        let http = http.clone();
        let base = base.to_owned();
        set.spawn(async move {
            (
                i,
                account(&http, &base, format!("bench-user-{i}@example.com")).await,
            )
        });
        while set.len() >= 8 {
            let (i, r) = set.join_next().await.unwrap()?;
            out.push((i, r?));
        }
    }
    while let Some(r) = set.join_next().await {
        let (i, r) = r?;
        out.push((i, r?));
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(RelaySetup {
        http: base.to_owned(),
        owner_token,
        service_id,
        channel_id,
        users: out.into_iter().map(|(_, u)| u).collect(),
    })
}

/// Sends a frame and waits for its copy, skipping anything else.
pub(crate) async fn relay_request(ws: &mut Ws, frame: Value) -> anyhow::Result<()> {
    let rid = frame["request_id"].as_str().unwrap_or("").to_owned();
    ws.send_text(&frame.to_string()).await?;
    loop {
        let t = tokio::time::timeout(Duration::from_secs(20), ws.next_text())
            .await
            .context("no copy")??;
        let v: Value = serde_json::from_str(&t)?;
        if v["type"] == "copy" && v["body"]["request_id"] == rid.as_str() {
            if v["body"]["status"] != true {
                bail!("refused: {v}");
            }
            return Ok(());
        }
    }
}

pub(crate) async fn relay_user_socket(
    url: &str,
    token: &str,
    join: Option<&str>,
) -> anyhow::Result<Ws> {
    let mut ws = Ws::connect(url).await?;
    relay_request(
        &mut ws,
        json!({"type": "user_login", "request_id": "login", "access_token": token}),
    )
    .await?;
    if let Some(ch) = join {
        relay_request(&mut ws, json!({"type": "action", "request_id": "join", "body": {"subtype": "join_channel", "channel_id": ch, "context": {}}})).await?;
    }
    Ok(ws)
}

/// The send time in a delivered frame: the text content is the microseconds since `base`.
/// The frame is checked to be UTF-8 (as any WebSocket client must) and scanned, not parsed:
/// the bench's own text content is digits only, so the first `"text":"` is exact. The searches
/// are built once: a naive scan of each ~300-byte frame took two thirds of this generator's
/// CPU, which it shares with the server under test.
pub(crate) fn relay_sent_us(frame: &[u8]) -> Option<u64> {
    use memchr::memmem::Finder;
    static KIND: std::sync::LazyLock<Finder<'static>> =
        std::sync::LazyLock::new(|| Finder::new(b"\"message_down\""));
    static TEXT: std::sync::LazyLock<Finder<'static>> =
        std::sync::LazyLock::new(|| Finder::new(b"\"text\":\""));
    std::str::from_utf8(frame).ok()?;
    KIND.find(frame)?;
    let digits = &frame[TEXT.find(frame)? + 8..];
    let end = memchr::memchr(b'"', digits)?;
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::relay_sent_us;
    use relay_wire::channel::outbound::{copy, message, MessageBody, Position};
    use serde_json::json;

    pub(crate) fn down(text: &str) -> String {
        let body = MessageBody {
            subtype: "text".into(),
            channel_id: "c".into(),
            content: json!({"text": text}),
            recipients: "g".into(),
            timestamp: 1,
            context: json!({}),
            sender: "s".into(),
            message_id: "m".into(),
        };
        message(
            "message_down",
            Some("svc"),
            &body,
            Some(Position {
                epoch: "e",
                offset: 3,
            }),
        )
    }

    #[test]
    pub(crate) fn finds_the_send_time_in_the_servers_message_down() {
        assert_eq!(relay_sent_us(down("123456").as_bytes()), Some(123_456));
    }

    #[test]
    pub(crate) fn ignores_other_frames_and_non_numeric_or_invalid_text() {
        assert_eq!(
            relay_sent_us(copy("r", "message_down", true, None).as_bytes()),
            None
        );
        assert_eq!(relay_sent_us(down("hello").as_bytes()), None);
        let mut bad = down("42").into_bytes();
        bad.push(0xff);
        assert_eq!(relay_sent_us(&bad), None);
    }
}
