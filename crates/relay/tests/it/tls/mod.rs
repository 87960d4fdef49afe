//! `relay serve --tls-cert --tls-key`: the queue face over https and the channel face's
//! WebSocket over wss on the one listener, the certificate read again on SIGHUP, and a
//! plain-HTTP client on the TLS port refused without harm. The certificates are made here,
//! signed by a test CA that only the test's clients trust.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::server::{Options, Server, TOKEN};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

mod upload_url;

/// A test CA and a server certificate for localhost and 127.0.0.1 signed by it.
struct Pki {
    ca: CertificateDer<'static>,
    cert_pem: String,
    key_pem: String,
    cert: CertificateDer<'static>,
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
        cert: cert.der().clone(),
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
    let s = Server::with(Options::default().args(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]));
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
    let tcp = TcpStream::connect(("127.0.0.1", s.port())).await?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

fn peer_cert(tls: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    tls.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// One HTTP/1.1 request over a fresh TLS connection: status, headers and body.
async fn https(
    s: &Server,
    ca: &CertificateDer<'static>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> (u16, http::HeaderMap, String) {
    let (status, headers, body) = https_bytes(s, ca, method, path, headers, body).await;
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// Like [`https`], the body as bytes.
async fn https_bytes(
    s: &Server,
    ca: &CertificateDer<'static>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> (u16, http::HeaderMap, Vec<u8>) {
    let tls = connect(s, &[ca]).await.expect("TLS handshake");
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("Host", format!("localhost:{}", s.port()));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = send
        .send_request(req.body(Full::new(body.into())).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body.to_vec())
}

#[tokio::test]
async fn queue_push_and_pull_over_https() {
    let pki = make_pki();
    let (_files, s) = start(&pki);
    let (status, _, body) = https(
        &s,
        &pki.ca,
        "POST",
        "/messageQueue",
        &[
            ("Authorization", TOKEN),
            ("Scirocco-From", "a1"),
            ("Scirocco-To", "b2"),
            ("Content-Type", "application/json"),
        ],
        r#"{"job": 1}"#,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, headers, body) = https(
        &s,
        &pki.ca,
        "GET",
        "/messageQueue",
        &[("Authorization", TOKEN), ("Scirocco-From", "b2")],
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, r#"{"job": 1}"#);
    assert!(headers.contains_key("scirocco-id"), "{headers:?}");
}

#[tokio::test]
async fn a_websocket_over_wss() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let pki = make_pki();
    let (_files, s) = start(&pki);
    let tls = connect(&s, &[&pki.ca]).await.unwrap();
    let url = format!("wss://localhost:{}/ws", s.port());
    let (mut ws, resp) = tokio_tungstenite::client_async(url, tls)
        .await
        .expect("WebSocket handshake over TLS");
    assert_eq!(resp.status(), 101);
    // A frame that is no login: the channel face answers it over the same TLS stream.
    ws.send(Message::text(r#"{"type":"heartbeat","body":{}}"#))
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("an answer over wss")
        .expect("a frame")
        .unwrap();
    assert!(
        matches!(reply, Message::Text(_) | Message::Close(_)),
        "{reply:?}"
    );
}

#[tokio::test]
async fn sighup_serves_a_new_certificate_to_new_connections() {
    let first = make_pki();
    let (files, s) = start(&first);
    let before = connect(&s, &[&first.ca]).await.unwrap();
    assert_eq!(peer_cert(&before), first.cert);

    // A file that cannot be used is refused and the certificate in force kept.
    std::fs::write(files.path().join("cert.pem"), "not a certificate\n").unwrap();
    hangup(&s);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let still = connect(&s, &[&first.ca])
        .await
        .expect("old certificate kept");
    assert_eq!(peer_cert(&still), first.cert);

    let second = make_pki();
    write_pki(&second, files.path());
    hangup(&s);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let tls = connect(&s, &[&first.ca, &second.ca]).await.unwrap();
        if peer_cert(&tls) == second.cert {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not bring the new certificate"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A client that trusts only the new CA now gets in; the connection made before goes on.
    connect(&s, &[&second.ca]).await.expect("new certificate");
    let mut before = before;
    before
        .write_all(b"GET /messageQueue HTTP/1.1\r\nHost: x\r\nAuthorization: x\r\nScirocco-From: n1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 12];
    before.read_exact(&mut buf).await.unwrap();
    assert!(
        buf.starts_with(b"HTTP/1.1 "),
        "{:?}",
        String::from_utf8_lossy(&buf)
    );
}

fn hangup(s: &Server) {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("kill -HUP {}", s.pid()))
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn plain_http_on_the_tls_port_is_refused_and_the_server_goes_on() {
    let pki = make_pki();
    let (_files, s) = start(&pki);
    let mut tcp = TcpStream::connect(("127.0.0.1", s.port())).await.unwrap();
    tcp.write_all(b"GET /messageQueue HTTP/1.1\r\nHost: x\r\nAuthorization: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_string(&mut answer))
        .await
        .expect("the server closes the connection")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("https://"), "{answer}");
    // Still serving TLS.
    let (status, _, body) = https(&s, &pki.ca, "GET", "/", &[("Authorization", TOKEN)], "").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_client_that_never_finishes_the_handshake_is_dropped() {
    let pki = make_pki();
    let files = tempfile::tempdir().unwrap();
    write_pki(&pki, files.path());
    let cert = files.path().join("cert.pem");
    let key = files.path().join("key.pem");
    let s = Server::with(
        Options::default()
            .args(&[
                "--tls-cert",
                cert.to_str().unwrap(),
                "--tls-key",
                key.to_str().unwrap(),
            ])
            .env("RELAY_TLS_HANDSHAKE_MS", "300"),
    );
    // Half a ClientHello record header, then nothing.
    let mut tcp = TcpStream::connect(("127.0.0.1", s.port())).await.unwrap();
    tcp.write_all(&[0x16, 0x03]).await.unwrap();
    let mut rest = Vec::new();
    // Closed (an end of stream or a reset) long before the test's own limit.
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut rest))
        .await
        .expect("the server gives up on the handshake");
    let (status, _, _) = https(&s, &pki.ca, "GET", "/", &[("Authorization", TOKEN)], "").await;
    assert_eq!(status, 200);
}

#[test]
fn a_certificate_that_cannot_be_read_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    std::fs::write(&key, make_pki().key_pem).unwrap();
    let out = std::process::Command::new(crate::support::BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--queue-token",
            "x",
            "--data",
        ])
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(dir.path().join("no-such-cert.pem"))
        .arg("--tls-key")
        .arg(&key)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-such-cert.pem"), "{stderr}");
    assert!(!stderr.contains("listening on"), "{stderr}");
}
