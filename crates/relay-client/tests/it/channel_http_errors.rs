//! What the channel face's HTTP client says when a call fails: the answer of something that is
//! not the channel API (a proxy's error page, another server) is shown with its status, and a
//! failed connection says its cause once.

use std::error::Error;
use std::io::{Read, Write};
use std::net::TcpListener;

use relay_client::channel::{ChannelHttp, ClientError};

/// Answers one request with `status` and an HTML body, as a reverse proxy whose upstream is down.
fn proxy_error_page(status: &str, body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let status = status.to_owned();
    std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut buf = [0u8; 8192];
        let _ = tcp.read(&mut buf);
        let _ = write!(tcp, "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    });
    url
}

#[tokio::test]
async fn an_answer_that_is_not_json_is_shown_with_its_status() {
    let url = proxy_error_page(
        "502 Bad Gateway",
        "<html><body>upstream relay is down</body></html>",
    );
    let err = ChannelHttp::new(&url)
        .unwrap()
        .sign_in("a@example.com", "pw")
        .await
        .unwrap_err();
    match &err {
        ClientError::NotJson { status, body } => {
            assert_eq!(*status, 502);
            assert!(body.contains("upstream relay is down"), "{body}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("502"), "{err}");
}

#[tokio::test]
async fn a_failed_connection_names_its_cause_once() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = ChannelHttp::new(&format!("http://127.0.0.1:{port}"))
        .unwrap()
        .sign_in("a@example.com", "pw")
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Http(_)), "{err:?}");
    // Printed with its sources (as `relay` does), each part once.
    let cause = err
        .source()
        .expect("the reqwest error is the source")
        .to_string();
    assert!(
        !err.to_string().contains(&cause),
        "{err} repeats its source {cause}"
    );
}
