//! A channel server URL that can never work (wss:// in a client without TLS, another scheme,
//! no host) stops the client at once with the reason, instead of retrying it forever.

use std::time::{Duration, Instant};

use relay_client::channel::{ChannelClient, ClientConfig, ClientError, Login, Status};

async fn refused(url: &str) -> String {
    let client = ChannelClient::connect(
        ClientConfig::new(
            url,
            Login::User {
                access_token: "t".into(),
            },
        ),
        Box::new(|_| Ok(())),
    );
    let t0 = Instant::now();
    let reason = match client.wait_logged_in(1, Duration::from_secs(5)).await {
        Err(ClientError::UnusableUrl(reason)) => reason,
        other => panic!("{url}: {other:?} after {:?}", t0.elapsed()),
    };
    assert_eq!(client.status(), Status::Unusable(reason.clone()));
    assert!(
        matches!(
            client.send_frame(serde_json::json!({"type": "heartbeat"})),
            Err(ClientError::Closed)
        ),
        "{url}: the stopped client still takes frames"
    );
    reason
}

#[tokio::test]
async fn wss_urls_are_refused_at_once_with_the_reason() {
    let reason = refused("wss://127.0.0.1:1/ws").await;
    assert!(
        reason.contains("wss://") && reason.contains("ws://"),
        "{reason}"
    );
}

#[tokio::test]
async fn urls_without_a_websocket_scheme_or_host_are_refused() {
    let reason = refused("http://127.0.0.1:1/ws").await;
    assert!(reason.contains("ws://"), "{reason}");
    refused("ws:///ws").await;
    refused("not a url").await;
}
