//! Token lifetimes against the real binary (checklist items 7 and 16): a refresh token keeps
//! working for 30 days, an access token expires after 24 hours, and a socket that logged in
//! stays open and served after its token expired. The hub's clock is moved forward through the
//! admin socket's test hook (`RELAY_TEST_HOOKS=1`) instead of waiting days.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::channel::{setup, Setup};
use crate::support::server::{Options, Server};
use relay_client::channel::types::MessageContent;
use relay_client::channel::{ChannelClient, ChannelHttp, ClientConfig, Login, ServerFrame};
use serde_json::{json, Value};

const DAY_MS: i64 = 86_400_000;

fn start() -> Server {
    Server::with(Options::default().hooks())
}

/// Moves the running server's hub clock forward.
fn advance(s: &Server, ms: i64) {
    let mut sock = UnixStream::connect(s.data_dir().join("channels").join("admin.sock")).unwrap();
    writeln!(sock, "{}", json!({"op": "advance_clock", "ms": ms})).unwrap();
    let mut line = String::new();
    BufReader::new(sock).read_line(&mut line).unwrap();
    let reply: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(reply["ok"], true, "{reply}");
}

/// Sends an API call and returns its JSON envelope.
async fn envelope(req: reqwest::RequestBuilder) -> Value {
    req.send().await.unwrap().json().await.unwrap()
}

/// `POST /auth/refresh`: the new access token, or the API's error code.
async fn refresh(s: &Server, email: &str, refresh_token: &str) -> Result<String, i64> {
    let http = reqwest::Client::new();
    let v = envelope(
        http.post(format!("{}/auth/refresh", s.http()))
            .json(&json!({"username": email, "refresh_token": refresh_token})),
    )
    .await;
    match v["code"].as_i64() {
        Some(10000) => Ok(v["data"]["AuthenticationResult"]["AccessToken"]
            .as_str()
            .unwrap()
            .to_owned()),
        other => Err(other.unwrap_or(-1)),
    }
}

fn signed_in_as(s: &Server, token: &str) -> ChannelHttp {
    let mut h = ChannelHttp::new(&s.http()).unwrap();
    h.access_token = Some(token.to_owned());
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_last_30_days_and_access_tokens_24_hours() {
    let s = start();
    s.add_account("u@example.com", "pw-u");
    let mut http = ChannelHttp::new(&s.http()).unwrap();
    let (access, refresh_token) = http.sign_in("u@example.com", "pw-u").await.unwrap();

    advance(&s, DAY_MS + 60_000);
    assert!(
        signed_in_as(&s, &access).user_id().await.is_err(),
        "an access token is refused after 24 h"
    );
    let second = refresh(&s, "u@example.com", &refresh_token)
        .await
        .expect("refresh after a day");
    signed_in_as(&s, &second)
        .user_id()
        .await
        .expect("the refreshed access token works");

    advance(&s, 28 * DAY_MS);
    let third = refresh(&s, "u@example.com", &refresh_token)
        .await
        .expect("the same refresh token on day 29");
    signed_in_as(&s, &third).user_id().await.unwrap();

    advance(&s, 2 * DAY_MS);
    assert!(
        refresh(&s, "u@example.com", &refresh_token).await.is_err(),
        "refused after 31 days"
    );
    assert!(refresh(&s, "u@example.com", "not-a-token").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_stays_served_after_its_login_token_expires() {
    let s = start();
    let Setup {
        owner,
        user,
        sid,
        ch,
        ..
    } = setup(&s).await;

    let seen: Arc<Mutex<Vec<ServerFrame>>> = Arc::default();
    let rec = seen.clone();
    let login = Login::Service {
        access_token: owner.access_token.clone().unwrap(),
        service_id: sid,
    };
    let svc = ChannelClient::connect(
        ClientConfig::new(s.ws(), login),
        Box::new(move |f| {
            rec.lock().unwrap().push(f);
            Ok(())
        }),
    );
    let ucli = ChannelClient::connect(
        ClientConfig::new(
            s.ws(),
            Login::User {
                access_token: user.access_token.clone().unwrap(),
            },
        ),
        Box::new(|_| Ok(())),
    );
    svc.wait_logged_in(1, Duration::from_secs(10))
        .await
        .unwrap();
    ucli.wait_logged_in(1, Duration::from_secs(10))
        .await
        .unwrap();
    ucli.join_channel(&ch).send().unwrap();

    // Both tokens are now two days past their expiry; neither socket has been closed for it.
    advance(&s, 2 * DAY_MS);
    assert!(
        user.user_id().await.is_err(),
        "the user's access token has expired"
    );
    ucli.message_up(&ch, "service", "text", &MessageContent::text("still here"))
        .send()
        .unwrap();
    let mut got = None;
    for _ in 0..200 {
        got = seen
            .lock()
            .unwrap()
            .iter()
            .find(|f| f.kind == "message_up")
            .cloned();
        if got.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let up = got.expect("the service's socket, logged in with an expired token, still receives");
    assert_eq!(up.body["content"]["text"], "still here");
    assert_eq!(
        svc.status(),
        relay_client::channel::Status::LoggedIn(1),
        "no reconnect happened"
    );
    assert_eq!(ucli.status(), relay_client::channel::Status::LoggedIn(1));
    svc.close().await;
    ucli.close().await;
}

/// `POST /file/store/` with `key` and a one-line `file`, multipart as the SDK sends it: the
/// API's `code`.
async fn upload(s: &Server, key: &str) -> i64 {
    let body = format!(
        "--B\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n{key}\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n--B--\r\n"
    );
    let http = reqwest::Client::new();
    let v = envelope(
        http.post(format!("{}/file/store/", s.http()))
            .header("Content-Type", "multipart/form-data; boundary=B")
            .body(body),
    )
    .await;
    v["code"].as_i64().unwrap()
}

/// An upload key from `GET /file/upload` is good for an hour: a key never used is forgotten
/// then (they would otherwise pile up in memory until a restart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_keys_expire_after_an_hour() {
    let s = start();
    let st = setup(&s).await;
    let token = st.owner.access_token.clone().unwrap();
    let http = reqwest::Client::new();
    let ticket = || async {
        let v = envelope(
            http.get(format!("{}/file/upload?extension=txt", s.http()))
                .bearer_auth(&token),
        )
        .await;
        v["data"]["fields"]["key"].as_str().unwrap().to_owned()
    };
    let early = ticket().await;
    let late = ticket().await;
    advance(&s, 59 * 60_000);
    assert_eq!(
        upload(&s, &early).await,
        10000,
        "a key used within the hour works"
    );
    advance(&s, 2 * 60_000);
    assert_eq!(
        upload(&s, &late).await,
        40300,
        "a key older than an hour is refused"
    );
    assert_eq!(
        upload(&s, &ticket().await).await,
        10000,
        "a fresh key works"
    );
}
