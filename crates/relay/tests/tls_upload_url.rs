//! Over `relay serve --tls-cert`, the upload ticket's URL says `https`: a client that reached the
//! server over TLS (the web page on https, the SDK over https) must be sent to post and fetch
//! the file over TLS too, or the upload is refused on the TLS port (or blocked as mixed content
//! in a browser) and every message names a URL nobody can open.

mod channel_common;

use std::path::Path;
use std::sync::Arc;

use channel_common::Server;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A test CA and a server certificate for localhost and 127.0.0.1 signed by it.
struct Pki {
    ca: CertificateDer<'static>,
    cert_pem: String,
    key_pem: String,
}

fn make_pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    Pki {
        ca: ca.der().clone(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

fn write_pki(pki: &Pki, dir: &Path) {
    std::fs::write(dir.join("cert.pem"), &pki.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &pki.key_pem).unwrap();
}

fn start(pki: &Pki) -> (tempfile::TempDir, Server) {
    let files = tempfile::tempdir().unwrap();
    write_pki(pki, files.path());
    let cert = files.path().join("cert.pem");
    let key = files.path().join("key.pem");
    let s = Server::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    (files, s)
}

/// A TLS connection to the server that trusts only `cas`.
async fn connect(
    s: &Server,
    cas: &[&CertificateDer<'static>],
) -> std::io::Result<TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        roots.add((*ca).clone()).unwrap();
    }
    #[allow(deprecated)] // ring: see relay-server's tls module
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(("127.0.0.1", s.port)).await?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// One HTTP/1.1 request over a fresh TLS connection: status, headers and body.
async fn https(
    s: &Server,
    ca: &CertificateDer<'static>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, http::HeaderMap, Vec<u8>) {
    let tls = connect(s, &[ca]).await.expect("TLS handshake");
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("Host", format!("localhost:{}", s.port));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = send
        .send_request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body.to_vec())
}

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
    let base = format!("https://localhost:{}", s.port);
    assert_eq!(url, format!("{base}/file/store/"), "{ticket}");

    let path = url.strip_prefix(&base).unwrap();
    let mut form = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n{key}\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"file\"\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(b"over tls\r\n--XyZ--\r\n");
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
    let s = Server::start(&[]);
    s.add_account("a@example.com", "pw");
    let mut h = relay_client::channel::ChannelHttp::new(&s.http()).unwrap();
    let (token, _) = h.sign_in("a@example.com", "pw").await.unwrap();
    let ticket: Value = reqwest::Client::new()
        .get(format!("{}/file/upload?extension=txt", s.http()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ticket["data"]["url"], format!("{}/file/store/", s.http()));
}
