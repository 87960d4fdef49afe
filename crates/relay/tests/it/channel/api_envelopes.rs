//! Checklist item 41 at the edges axum's extractors decide: a body over the API's size limit and
//! a file key that is not valid percent-encoded UTF-8 still get the API's JSON envelope. And the
//! channel names the API refuses with it: too long to announce, empty or only whitespace.

use crate::support::server::Server;
use relay_client::channel::ChannelHttp;
use serde_json::{json, Value};

/// A signed-in account calling the channel API with JSON bodies.
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
    client: ChannelHttp,
}

impl Api {
    async fn signed_in(s: &Server) -> Api {
        s.add_account("a@example.com", "pw");
        let mut client = ChannelHttp::new(&s.http()).unwrap();
        let (token, _) = client.sign_in("a@example.com", "pw").await.unwrap();
        Api {
            http: reqwest::Client::new(),
            base: s.http(),
            token,
            client,
        }
    }

    /// The HTTP status and the envelope.
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }
}

async fn assert_envelope(res: reqwest::Response, what: &str) {
    let status = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = res.text().await.unwrap();
    assert!(
        ct.starts_with("application/json"),
        "{what}: {status} with Content-Type {ct:?}: {text}"
    );
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{what}: {status} body is not JSON ({e}): {text}"));
    assert!(
        v["code"].is_i64() && v["code"] != 10000,
        "{what}: {status} {v}"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_gets_the_json_envelope() {
    let s = Server::start();
    let api = Api::signed_in(&s).await;
    let big = format!(
        r#"{{"username":"a@example.com","password":"pw","pad":"{}"}}"#,
        "x".repeat(3 << 20)
    );
    // A client of its own for each: the server closes a connection whose body it refused
    // unread, and a pooled client could send the next request on it before it sees that.
    let res = reqwest::Client::new()
        .post(format!("{}/auth/sign_in", s.http()))
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_envelope(res, "POST /auth/sign_in of 3 MiB").await;
    let res = reqwest::Client::new()
        .post(format!("{}/channel/create", s.http()))
        .bearer_auth(&api.token)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_envelope(res, "POST /channel/create of 3 MiB").await;
}

#[tokio::test]
async fn a_file_key_that_is_not_utf8_gets_the_json_envelope() {
    let s = Server::start();
    let res = reqwest::get(format!("{}/file/store/%FF", s.http()))
        .await
        .unwrap();
    assert_envelope(res, "GET /file/store/%FF").await;
}

/// A channel name or description too long for the `channel_info` frame that would announce it
/// (clients refuse frames over 1 MiB) is refused with a reason, on create and on update, and
/// the channel keeps its name.
#[tokio::test]
async fn channel_names_too_long_to_announce_are_refused() {
    let s = Server::start();
    let api = Api::signed_in(&s).await;
    let long = "n".repeat(1_500_000);
    let (_, v) = api
        .post(
            "/channel/create",
            json!({"channel_name": long, "context": {}}),
        )
        .await;
    assert!(
        v["code"] != 10000 && v["message"].as_str().unwrap_or("").contains("channel_name"),
        "{v}"
    );
    let (_, v) = api
        .post(
            "/channel/create",
            json!({"channel_name": "room", "context": {"channel_description": "d"}}),
        )
        .await;
    let ch = v["data"]["channel_id"].as_str().unwrap().to_owned();
    let (_, v) = api.post("/channel/update", json!({"channel_id": ch, "channel_name": "room", "context": {"channel_description": long}})).await;
    assert!(
        v["code"] != 10000
            && v["message"]
                .as_str()
                .unwrap_or("")
                .contains("channel_description"),
        "{v}"
    );
    let list = api.client.channels().await.unwrap();
    assert_eq!(list[0]["channel_name"], "room", "{list:?}");
}

/// A channel is shown everywhere by its name, so create and update refuse an empty or
/// whitespace-only `channel_name` (code 40000) and the channel keeps its name; an update
/// without `channel_name` leaves the name alone.
#[tokio::test]
async fn empty_or_blank_channel_names_are_refused() {
    let s = Server::start();
    let api = Api::signed_in(&s).await;
    let refused = |(status, v): (u16, Value), what: &str| {
        assert_eq!((status, &v["code"]), (400, &json!(40000)), "{what}: {v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap_or("")
                .contains("channel_name must not be empty"),
            "{what}: {v}"
        );
        assert!(v["data"].is_null(), "{what}: {v}");
    };
    for blank in ["", " ", "\t\n ", "\u{3000}"] {
        refused(
            api.post(
                "/channel/create",
                json!({"channel_name": blank, "context": {"channel_description": "d"}}),
            )
            .await,
            &format!("create {blank:?}"),
        );
    }
    assert!(
        api.client.channels().await.unwrap().is_empty(),
        "a refused create made a channel"
    );

    let (_, v) = api
        .post(
            "/channel/create",
            json!({"channel_name": "room", "context": {"channel_description": "d"}}),
        )
        .await;
    let ch = v["data"]["channel_id"].as_str().unwrap().to_owned();
    for blank in ["", "  "] {
        refused(api.post("/channel/update", json!({"channel_id": ch, "channel_name": blank, "context": {"channel_description": "e"}})).await, &format!("update {blank:?}"));
    }
    let (_, v) = api
        .post(
            "/channel/update",
            json!({"channel_id": ch, "context": {"channel_description": "e"}}),
        )
        .await;
    assert_eq!(v["code"], 10000, "an update without channel_name: {v}");
    let list = api.client.channels().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["channel_name"], "room", "{list:?}");
    assert_eq!(
        list[0]["channel_context"]["channel_description"], "e",
        "{list:?}"
    );
}

/// Every id asked for gets a profile, known or not, so one 2 MiB body of one-letter ids once
/// made the server build about a gigabyte: more than 10,000 ids in one request are refused.
#[tokio::test]
async fn fetch_profile_takes_at_most_ten_thousand_ids() {
    let s = Server::start();
    let api = Api::signed_in(&s).await;
    let me = api.client.user_id().await.unwrap();
    let mut ids = vec![json!("x"); 10_000];
    ids[9_999] = json!(me);
    let (status, v) = api
        .post("/character/fetch_profile", json!({"character_list": ids}))
        .await;
    assert_eq!((status, &v["code"]), (200, &json!(10000)), "{v}");
    let got = v["data"].as_array().unwrap();
    assert_eq!(got.len(), 10_000);
    assert_eq!(got[9_999]["character_id"], me.as_str(), "in request order");
    ids.push(json!("x"));
    let (status, v) = api
        .post("/character/fetch_profile", json!({"character_list": ids}))
        .await;
    assert_eq!((status, &v["code"]), (400, &json!(40000)), "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("at most 10000"),
        "{v}"
    );
}
