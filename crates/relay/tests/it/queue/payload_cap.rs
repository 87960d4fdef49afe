//! `--max-payload`: a hard cap on any request body, on top of the original's per-type limits.

use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::json;

fn capped(bytes: usize) -> Server {
    Server::with(
        Options::default()
            .arg("--max-payload")
            .arg(bytes.to_string()),
    )
}

#[track_caller]
fn assert_too_large(r: &Response) {
    assert_eq!(r.status, 413, "{}", r.describe());
    assert_eq!(r.content_type(), Some(JSON_CT), "{}", r.describe());
    let msg = r.json()["message"].as_str().map(str::to_string);
    assert!(
        msg.is_some_and(|m| !m.is_empty()),
        "413 without a clear message: {}",
        r.describe()
    );
}

#[test]
fn body_over_max_payload_is_413_with_json_message() {
    let s = capped(1000);
    let push = |ct: &str, len: usize| {
        s.req("POST", "/messageQueue")
            .from("a1")
            .to("b2")
            .header("Content-Type", ct)
            .body(vec![b'x'; len])
            .send()
    };
    assert_too_large(&push("text/plain", 1001));
    assert_too_large(&push("application/octet-stream", 5000));
    let mut json_body = b"{\"p\":\"".to_vec();
    json_body.resize(2000, b'y');
    json_body.extend_from_slice(b"\"}");
    assert_too_large(
        &s.req("POST", "/messageQueue")
            .from("a1")
            .to("b2")
            .header("Content-Type", "application/json")
            .body(json_body)
            .send(),
    );
    push("text/plain", 1000).expect(201);
    // Updates are capped too, and a refused update leaves the message as it was.
    let id = s.push("a1", "b2", &json!({"v": 1})).id();
    assert_too_large(
        &s.req("PATCH", &format!("/messages/{id}"))
            .from("a1")
            .header("Content-Type", "text/plain")
            .body(vec![b'z'; 1001])
            .send(),
    );
    assert_eq!(s.get("a1", &id).expect(200).json(), json!({"v": 1}));
    assert!(s.alive());
}

#[test]
fn max_payload_wins_over_a_larger_per_type_limit() {
    let s = Server::with(
        Options::default()
            .arg("--max-payload")
            .arg("2000000")
            .env("SCIROCCO_MAX_KB_SIZE_RAW", "4000"),
    );
    let push = |len: usize| {
        s.req("POST", "/messageQueue")
            .from("a1")
            .to("b2")
            .bytes(&vec![1; len])
            .send()
    };
    // Above the default 1000 KiB raw limit but within both configured limits.
    push(1_500_000).expect(201);
    assert_too_large(&push(3_000_000));
    assert_eq!(
        s.pull("b2").expect(200).sc("Data-Type"),
        "application/octet-stream"
    );
    s.pull("b2").expect(204);
}

#[test]
fn per_type_limit_still_applies_under_a_larger_max_payload() {
    let s = capped(10_000_000);
    let r = s
        .req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .header("Content-Type", "text/plain")
        .body(vec![b't'; 100 * 1024 + 1])
        .send();
    assert_too_large(&r);
}

#[test]
fn chunked_bodies_are_capped_too() {
    // Without a Content-Length the limit must be enforced while the body streams in.
    let s = capped(1000);
    let push = |body: Vec<u8>| {
        s.req("POST", "/messageQueue")
            .from("a1")
            .to("b2")
            .header("Content-Type", "text/plain")
            .body(body)
    };
    assert_too_large(&push(vec![b'c'; 5000]).chunked(700).send());
    let r = push(vec![b'c'; 900]).chunked(100).send().expect(201);
    assert_eq!(r.body, vec![b'c'; 900]);
    // The per-type limit as well.
    let s = Server::start();
    let r = s
        .req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .header("Content-Type", "text/plain")
        .body(vec![b'c'; 100 * 1024 + 1])
        .chunked(8192)
        .send();
    assert_too_large(&r);
    assert!(s.alive());
}

/// A client that writes its whole oversized body before reading (as reqwest and urllib3 do
/// without `Expect: 100-continue`) must still get the 413, not a broken pipe.
#[test]
fn a_client_that_sends_the_whole_oversized_body_reads_the_413() {
    use std::io::{Read, Write};
    let s = Server::start();
    let body = vec![b'x'; 4 * 1024 * 1024]; // over the 1000 KiB raw limit, under --max-payload
    for _ in 0..10 {
        let mut c = std::net::TcpStream::connect(s.addr).unwrap();
        c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let head = format!(
            "POST /messageQueue HTTP/1.1\r\nHost: x\r\nAuthorization: {TOKEN}\r\nScirocco-From: a1\r\nScirocco-To: b2\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        c.write_all(head.as_bytes()).unwrap();
        c.write_all(&body)
            .expect("the server reads the body it refuses instead of cutting the upload");
        let mut answer = Vec::new();
        c.read_to_end(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("request entity too large"), "{answer}");
    }
    s.pull("b2").expect(204);
}
