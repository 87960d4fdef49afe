//! The channel face's world for the tests: signed-in accounts, a service bound to a channel, a
//! recording handler for the Rust channel client.

use std::time::Duration;

use relay_client::channel::ChannelHttp;

use super::server::Server;

/// Two signed-in accounts, the owner's service bound to the owner's channel.
pub(crate) struct Setup {
    pub owner: ChannelHttp,
    pub user: ChannelHttp,
    pub user_id: String,
    pub sid: String,
    pub ch: String,
}

pub(crate) async fn setup(s: &Server) -> Setup {
    s.add_account("owner@example.com", "pw-owner");
    s.add_account("user@example.com", "pw-user");
    let mut owner = ChannelHttp::new(&s.http()).unwrap();
    owner
        .sign_in("owner@example.com", "pw-owner")
        .await
        .unwrap();
    let mut user = ChannelHttp::new(&s.http()).unwrap();
    user.sign_in("user@example.com", "pw-user").await.unwrap();
    let user_id = user.user_id().await.unwrap();
    let sid = owner.create_service("svc").await.unwrap();
    let ch = owner.create_channel("room", "").await.unwrap();
    owner.bind(&ch, &sid).await.unwrap();
    Setup {
        owner,
        user,
        user_id,
        sid,
        ch,
    }
}

/// The frames a Rust channel client received, in order.
pub(crate) type Seen = std::sync::Arc<std::sync::Mutex<Vec<relay_client::channel::ServerFrame>>>;

/// A handler that records every frame into the returned list.
pub(crate) fn recorder() -> (Seen, relay_client::channel::Handler) {
    let seen: Seen = Default::default();
    let s = seen.clone();
    (
        seen,
        Box::new(move |f| {
            s.lock().unwrap().push(f);
            Ok(())
        }),
    )
}

/// Polls `f` every 50 ms until it gives a value; panics naming `what` after 30 s.
pub(crate) async fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..600 {
        if let Some(v) = f() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// `GET /file/upload?extension=EXT` as the SDK asks for an upload ticket: its `data` (`url`,
/// `fields.key`).
pub(crate) async fn upload_ticket(s: &Server, token: &str, ext: &str) -> serde_json::Value {
    let ticket: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/file/upload?extension={ext}", s.http()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    ticket["data"].clone()
}

/// The boundary of [`upload_form`]'s body.
pub(crate) const FORM_BOUNDARY: &str = "XyZ";

/// The multipart body the SDK posts to the ticket's URL: the key first, then the file.
pub(crate) fn upload_form(key: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n{key}\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"file\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    body
}
