//! Uploaded files are served on the web page's origin, so a download must never run script
//! there: every one carries `nosniff`, and an active type (SVG, HTML, anything not a known
//! passive image/audio/video/PDF/text type) is sandboxed and offered as an attachment, on GET
//! and HEAD alike, while images stay displayable inline.

use crate::support::channel::{upload_form, upload_ticket, FORM_BOUNDARY};
use crate::support::server::Server;
use reqwest::header::{HeaderMap, CONTENT_DISPOSITION, CONTENT_TYPE};
use serde_json::Value;

/// Uploads `bytes` through the SDK's flow (ticket, then the unauthenticated multipart POST)
/// and returns the file's URL.
async fn upload(s: &Server, token: &str, ext: &str, bytes: &[u8]) -> String {
    let c = reqwest::Client::new();
    let ticket = upload_ticket(s, token, ext).await;
    let url = ticket["url"].as_str().unwrap().to_owned();
    let key = ticket["fields"]["key"].as_str().unwrap().to_owned();
    let body = upload_form(&key, bytes);
    let r: Value = c
        .post(&url)
        .header(
            CONTENT_TYPE,
            format!("multipart/form-data; boundary={FORM_BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["code"], 10000, "{r}");
    url + &key
}

async fn heads(url: &str) -> (HeaderMap, HeaderMap, Vec<u8>) {
    let c = reqwest::Client::new();
    let got = c.get(url).send().await.unwrap();
    assert!(got.status().is_success(), "{url}: {}", got.status());
    let get_headers = got.headers().clone();
    let body = got.bytes().await.unwrap().to_vec();
    let head = c.head(url).send().await.unwrap();
    assert!(head.status().is_success());
    (get_headers, head.headers().clone(), body)
}

#[tokio::test(flavor = "multi_thread")]
async fn active_uploads_are_sandboxed_attachments_and_images_stay_inline() {
    let s = Server::start();
    s.add_account("a@example.com", "pw");
    let mut h = relay_client::channel::ChannelHttp::new(&s.http()).unwrap();
    let (token, _) = h.sign_in("a@example.com", "pw").await.unwrap();

    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    let html = b"<!doctype html><script>alert(1)</script>";
    for (ext, bytes) in [
        ("svg", &svg[..]),
        ("html", &html[..]),
        ("xml", &svg[..]),
        ("", &html[..]),
    ] {
        let url = upload(&s, &token, ext, bytes).await;
        let (get, head, body) = heads(&url).await;
        assert_eq!(body, bytes);
        for hm in [&get, &head] {
            assert_eq!(hm["x-content-type-options"], "nosniff", "{ext}: {hm:?}");
            let csp = hm["content-security-policy"].to_str().unwrap();
            assert!(
                csp.split(';').any(|d| d.trim() == "sandbox"),
                "{ext}: {csp}"
            );
            let cd = hm[CONTENT_DISPOSITION].to_str().unwrap();
            assert!(cd.starts_with("attachment"), "{ext}: {cd}");
            let ct = hm[CONTENT_TYPE].to_str().unwrap();
            assert!(!ct.contains("html"), "{ext} served as {ct}");
        }
    }

    let png = b"\x89PNG\r\n\x1a\n not really, but nosniff keeps it a PNG";
    let url = upload(&s, &token, "png", png).await;
    let (get, head, _) = heads(&url).await;
    for hm in [&get, &head] {
        assert_eq!(hm[CONTENT_TYPE], "image/png");
        assert_eq!(hm["x-content-type-options"], "nosniff");
        assert!(hm.get(CONTENT_DISPOSITION).is_none(), "{hm:?}");
        assert_eq!(hm["content-length"], png.len().to_string().as_str());
    }
}
