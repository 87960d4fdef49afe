//! Checklist item 41 at the edges axum's extractors decide: a body over the API's size limit and
//! a file key that is not valid percent-encoded UTF-8 still get the API's JSON envelope.

mod channel_common;

use channel_common::Server;
use serde_json::Value;

async fn assert_envelope(res: reqwest::Response, what: &str) {
    let status = res.status();
    let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let text = res.text().await.unwrap();
    assert!(ct.starts_with("application/json"), "{what}: {status} with Content-Type {ct:?}: {text}");
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {status} body is not JSON ({e}): {text}"));
    assert!(v["code"].is_i64() && v["code"] != 10000, "{what}: {status} {v}");
}

#[tokio::test]
async fn a_body_over_the_limit_gets_the_json_envelope() {
    let s = Server::start(&[]);
    s.add_account("a@example.com", "pw");
    let http = reqwest::Client::new();
    let big = format!(r#"{{"username":"a@example.com","password":"pw","pad":"{}"}}"#, "x".repeat(3 << 20));
    let res = http.post(format!("{}/auth/sign_in", s.http())).body(big.clone()).send().await.unwrap();
    assert_envelope(res, "POST /auth/sign_in of 3 MiB").await;

    let mut h = relay_client::channel::ChannelHttp::new(&s.http()).unwrap();
    let (token, _) = h.sign_in("a@example.com", "pw").await.unwrap();
    let res = http.post(format!("{}/channel/create", s.http())).bearer_auth(&token).body(big).send().await.unwrap();
    assert_envelope(res, "POST /channel/create of 3 MiB").await;
}

#[tokio::test]
async fn a_file_key_that_is_not_utf8_gets_the_json_envelope() {
    let s = Server::start(&[]);
    let res = reqwest::get(format!("{}/file/store/%FF", s.http())).await.unwrap();
    assert_envelope(res, "GET /file/store/%FF").await;
}

/// A channel name or description too long for the `channel_info` frame that would announce it
/// (clients refuse frames over 1 MiB) is refused with a reason, on create and on update, and
/// the channel keeps its name.
#[tokio::test]
async fn channel_names_too_long_to_announce_are_refused() {
    let s = Server::start(&[]);
    s.add_account("a@example.com", "pw");
    let mut h = relay_client::channel::ChannelHttp::new(&s.http()).unwrap();
    let (token, _) = h.sign_in("a@example.com", "pw").await.unwrap();
    let http = reqwest::Client::new();
    let call = |path: &'static str, body: Value| {
        let req = http.post(format!("{}{path}", s.http())).bearer_auth(&token).json(&body);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let long = "n".repeat(1_500_000);
    let v = call("/channel/create", serde_json::json!({"channel_name": long, "context": {}})).await;
    assert!(v["code"] != 10000 && v["message"].as_str().unwrap_or("").contains("channel_name"), "{v}");
    let v = call("/channel/create", serde_json::json!({"channel_name": "room", "context": {"channel_description": "d"}})).await;
    let ch = v["data"]["channel_id"].as_str().unwrap().to_owned();
    let v = call("/channel/update", serde_json::json!({"channel_id": ch, "channel_name": "room", "context": {"channel_description": long}})).await;
    assert!(v["code"] != 10000 && v["message"].as_str().unwrap_or("").contains("channel_description"), "{v}");
    let list: Value = http.get(format!("{}/channel/list", s.http())).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["data"][0]["channel_name"], "room", "{list}");
}
