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
