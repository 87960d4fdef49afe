//! Over `relay serve --tls-cert`, the upload ticket's URL says `https`: a client that reached the
//! server over TLS (the web page on https, the SDK over https) must be sent to post and fetch
//! the file over TLS too, or the upload is refused on the TLS port (or blocked as mixed content
//! in a browser) and every message names a URL nobody can open.

use serde_json::Value;

use super::{https_bytes as https, make_pki, start};
use crate::support::channel::{upload_form, upload_ticket};
use crate::support::server::Server;

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_upload_url_over_tls_is_https_and_works() {
    let pki = make_pki();
    let (_files, s) = start(&pki);
    s.add_account("a@example.com", "pw");
    let (_, _, body) = https(
        &s,
        &pki.ca,
        "POST",
        "/auth/sign_in",
        &[("Content-Type", "application/json")],
        br#"{"username": "a@example.com", "password": "pw"}"#.to_vec(),
    )
    .await;
    let token = json(&body)["data"]["AuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let bearer = format!("Bearer {token}");
    let (_, _, body) = https(
        &s,
        &pki.ca,
        "GET",
        "/file/upload?extension=txt",
        &[("Authorization", &bearer)],
        Vec::new(),
    )
    .await;
    let ticket = json(&body)["data"].clone();
    let url = ticket["url"].as_str().unwrap();
    let key = ticket["fields"]["key"].as_str().unwrap();
    let base = format!("https://localhost:{}", s.port());
    assert_eq!(url, format!("{base}/file/store/"), "{ticket}");

    let path = url.strip_prefix(&base).unwrap();
    let form = upload_form(key, b"over tls");
    let (status, _, body) = https(
        &s,
        &pki.ca,
        "POST",
        path,
        &[("Content-Type", "multipart/form-data; boundary=XyZ")],
        form,
    )
    .await;
    assert_eq!((status, json(&body)["code"].as_i64()), (200, Some(10000)));
    let (status, headers, body) =
        https(&s, &pki.ca, "GET", &format!("{path}{key}"), &[], Vec::new()).await;
    assert_eq!((status, body.as_slice()), (200, &b"over tls"[..]));
    assert_eq!(headers["x-content-type-options"], "nosniff");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_upload_url_without_tls_is_http() {
    let s = Server::start();
    s.add_account("a@example.com", "pw");
    let mut h = relay_client::channel::ChannelHttp::new(&s.http()).unwrap();
    let (token, _) = h.sign_in("a@example.com", "pw").await.unwrap();
    let ticket = upload_ticket(&s, &token, "txt").await;
    assert_eq!(ticket["url"], format!("{}/file/store/", s.http()));
}
