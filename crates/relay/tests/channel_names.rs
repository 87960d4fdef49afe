//! A channel is shown everywhere by its name, so `POST /channel/create` and `/channel/update`
//! refuse an empty or whitespace-only `channel_name` with the API's error envelope (code 40000)
//! and the channel keeps its name; an update without `channel_name` leaves the name alone.

mod channel_common;

use channel_common::Server;
use serde_json::{json, Value};

#[tokio::test]
async fn empty_or_blank_channel_names_are_refused() {
    let s = Server::start(&[]);
    s.add_account("a@example.com", "pw");
    let mut h = relay_client::channel::ChannelHttp::new(&s.http()).unwrap();
    let (token, _) = h.sign_in("a@example.com", "pw").await.unwrap();
    let http = reqwest::Client::new();
    let call = |path: &'static str, body: Value| {
        let req = http.post(format!("{}{path}", s.http())).bearer_auth(&token).json(&body);
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let refused = |(status, v): (u16, Value), what: &str| {
        assert_eq!((status, &v["code"]), (400, &json!(40000)), "{what}: {v}");
        assert!(v["message"].as_str().unwrap_or("").contains("channel_name must not be empty"), "{what}: {v}");
        assert!(v["data"].is_null(), "{what}: {v}");
    };
    for blank in ["", " ", "\t\n ", "\u{3000}"] {
        refused(call("/channel/create", json!({"channel_name": blank, "context": {"channel_description": "d"}})).await, &format!("create {blank:?}"));
    }
    assert!(h.channels().await.unwrap().is_empty(), "a refused create made a channel");

    let (_, v) = call("/channel/create", json!({"channel_name": "room", "context": {"channel_description": "d"}})).await;
    let ch = v["data"]["channel_id"].as_str().unwrap().to_owned();
    for blank in ["", "  "] {
        refused(call("/channel/update", json!({"channel_id": ch, "channel_name": blank, "context": {"channel_description": "e"}})).await, &format!("update {blank:?}"));
    }
    let (_, v) = call("/channel/update", json!({"channel_id": ch, "context": {"channel_description": "e"}})).await;
    assert_eq!(v["code"], 10000, "an update without channel_name: {v}");
    let list = h.channels().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["channel_name"], "room", "{list:?}");
    assert_eq!(list[0]["channel_context"]["channel_description"], "e", "{list:?}");
}
