//! A frame the client refuses to send says why once, also when printed with its sources.

use std::error::Error;

use relay_client::channel::{ChannelClient, ClientConfig, ClientError, Login};

#[tokio::test]
async fn an_invalid_frame_names_its_fault_once() {
    let client = ChannelClient::connect(
        ClientConfig::new(
            "ws://127.0.0.1:1/ws",
            Login::User {
                access_token: "t".into(),
            },
        ),
        Box::new(|_| Ok(())),
    );
    let err = client.join_channel("").dry_run().unwrap_err();
    assert!(matches!(err, ClientError::Invalid(_)), "{err:?}");
    let cause = err
        .source()
        .expect("the wire crate's error is the source")
        .to_string();
    assert!(cause.contains("channel_id"), "{cause}");
    assert!(
        !err.to_string().contains(&cause),
        "{err} repeats its source {cause}"
    );
    client.close().await;
}
