//! Bad input gets the specified status and body, and never disturbs other clients or stored data.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::{json, Value};

/// A message stored before the abuse, checked untouched after it.
struct Witness {
    id: String,
    body: Value,
}

fn witness(s: &Server) -> Witness {
    let body = json!({"witness": true, "n": [1, 2, 3]});
    Witness {
        id: s.push("a1", "b2", &body).id(),
        body,
    }
}

#[track_caller]
fn still_serving(s: &Server, w: &Witness) {
    let r = s.get("a1", &w.id).expect(200);
    assert_eq!(
        (r.sc("Status"), r.json()),
        ("pending", w.body.clone()),
        "witness message changed"
    );
    // A fresh exchange works end to end.
    let id = s.push("e5", "f6", &json!({"after": "abuse"})).id();
    assert_eq!(s.pull("f6").expect(200).id(), id);
    s.ack("f6", &id).expect(200);
}

#[test]
fn wrong_or_missing_token() {
    let s = Server::start();
    let w = witness(&s);
    for auth in [None, Some(""), Some("nope"), Some("Bearer x")] {
        let mut req = s.anon("DELETE", "/messages").from("a1");
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        assert_error(&req.send(), 403, "Incorrect auth token.");
        let mut req = s.anon("DELETE", "/globalDataSpace");
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        assert_error(&req.send(), 403, "Incorrect auth token.");
    }
    still_serving(&s, &w);
}

#[test]
fn missing_destination_and_malformed_json() {
    let s = Server::start();
    let w = witness(&s);
    assert_validation(
        &s.req("POST", "/messageQueue")
            .from("a1")
            .json(&json!({}))
            .send(),
        "to",
    );
    for body in ["{", "{\"a\":}", "[1,2", "\u{0}", "{\"a\": 1} trailing"] {
        let r = s
            .req("POST", "/messageQueue")
            .from("a1")
            .to("b2")
            .header("Content-Type", "application/json")
            .body(body)
            .send();
        assert_eq!(r.status, 400, "body {body:?}: {}", r.describe());
        assert_eq!(r.content_type(), Some(JSON_CT));
        assert!(r.json()["message"].is_string());
    }
    // Invalid UTF-8 under a JSON type is malformed JSON, not a crash.
    let r = s
        .req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .header("Content-Type", "application/json")
        .body(vec![b'{', 0xff, 0xfe, b'}'])
        .send();
    assert_eq!(r.status, 400, "{}", r.describe());
    still_serving(&s, &w);
    assert_eq!(
        s.req("GET", "/messages")
            .from("a1")
            .send()
            .expect(200)
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn unknown_and_malformed_ids() {
    let s = Server::start();
    let w = witness(&s);
    for id in [
        "0123456789abcdef01234567",
        "abc",
        "0",
        "ABCDEF",
        &"f".repeat(100),
    ] {
        assert_error(&s.get("a1", id), 404, RESOURCE_NOT_FOUND);
        assert_error(&s.ack("b2", id), 404, RESOURCE_NOT_FOUND);
        assert_error(
            &s.req("PATCH", &format!("/messages/{id}"))
                .from("a1")
                .json(&json!({}))
                .send(),
            404,
            RESOURCE_NOT_FOUND,
        );
        assert_eq!(
            s.req("DELETE", &format!("/messages/{id}"))
                .from("a1")
                .send()
                .expect(200)
                .json(),
            json!({"n": 0, "ok": 1})
        );
    }
    for id in ["zz", "not-an-id", "%00", "..", "12345678901234567890123g"] {
        assert_error(&s.get("a1", id), 404, "Not Found");
    }
    still_serving(&s, &w);
}

#[test]
fn oversize_body_and_unknown_route() {
    let s = Server::start();
    let w = witness(&s);
    let big = vec![b'x'; 200 * 1024];
    let r = s
        .req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .header("Content-Type", "text/plain")
        .body(big.clone())
        .send();
    assert_error(&r, 413, "request entity too large");
    let r = s
        .req("PATCH", &format!("/messages/{}", w.id))
        .from("a1")
        .header("Content-Type", "text/plain")
        .body(big)
        .send();
    assert_eq!(r.status, 413, "{}", r.describe());
    for (m, p) in [
        ("GET", "/admin"),
        ("POST", "/"),
        ("OPTIONS", "/messageQueue"),
        ("GET", "/messages/abc/def"),
    ] {
        assert_error(&s.req(m, p).send(), 404, "Not Found");
    }
    still_serving(&s, &w);
}

fn half_body_head(s: &Server) -> String {
    format!(
        "POST /messageQueue HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nScirocco-From: a1\r\nScirocco-To: b2\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"partial\":",
        s.addr, s.token
    )
}

#[test]
fn client_sends_half_a_body_and_vanishes() {
    let s = Server::start();
    let w = witness(&s);
    for _ in 0..50 {
        let mut c = TcpStream::connect(s.addr).unwrap();
        c.write_all(half_body_head(&s).as_bytes()).unwrap();
        drop(c);
    }
    // One that stalls instead of leaving, while others are served.
    let mut stalled = TcpStream::connect(s.addr).unwrap();
    stalled.write_all(half_body_head(&s).as_bytes()).unwrap();
    still_serving(&s, &w);
    drop(stalled);
    // None of the partial pushes was stored.
    let listed = s
        .req("GET", "/messages")
        .from("a1")
        .send()
        .expect(200)
        .json();
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "a partial body was stored: {listed}"
    );
    still_serving(&s, &w);
}

#[test]
fn garbage_on_the_wire() {
    let s = Server::start();
    let w = witness(&s);
    let junk: [&[u8]; 4] = [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", // a TLS ClientHello start
        b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n",
    ];
    for bytes in junk {
        let mut c = TcpStream::connect(s.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(bytes).unwrap();
        let _ = c.shutdown(std::net::Shutdown::Write);
        // Any answer (400, or just a close) is fine; the point is what happens next.
        let mut sink = Vec::new();
        let _ = c.read_to_end(&mut sink);
        if let Some(status) = std::str::from_utf8(&sink)
            .ok()
            .and_then(|t| t.split_whitespace().nth(1))
        {
            assert!(
                status.starts_with('4'),
                "junk {bytes:?} answered with {status}"
            );
        }
    }
    still_serving(&s, &w);
}

/// After a refusal that did not read the body, the same connection must either serve the next
/// request correctly or be closed; leftover body bytes must never be read as a request.
#[test]
fn refused_bodies_do_not_poison_a_kept_alive_connection() {
    let s = Server::start();
    let w = witness(&s);
    let big_text = "t".repeat(300 * 1024);
    let refusals = [
        s.anon("POST", "/messageQueue")
            .from("a1")
            .to("b2")
            .text(&big_text),
        s.req("POST", "/messageQueue")
            .from("a1")
            .to("b2")
            .text(&big_text),
        s.req("POST", "/messageQueue")
            .from("a1")
            .to("b2")
            .header("Content-Type", "image/png")
            .body(vec![b'G'; 4096]),
        s.req("POST", "/nowhere").from("a1").text(&"x".repeat(4096)),
    ];
    for refused in refusals {
        let mut conn = Conn::open(s.addr).unwrap();
        let first = conn.send(&refused).unwrap();
        assert!((400..500).contains(&first.status), "{}", first.describe());
        if let Ok(next) = conn.send(&s.req("GET", &format!("/messages/{}", w.id)).from("a1")) {
            assert_eq!(
                next.status,
                200,
                "request after a refused body on the same connection: {}",
                next.describe()
            );
            assert_eq!(next.json(), w.body);
        }
    }
    still_serving(&s, &w);
}

#[test]
fn many_idle_connections_do_not_starve_others() {
    let s = Server::start();
    let w = witness(&s);
    // Connections that never send a byte, and some that stop inside the request head.
    let mut idle: Vec<TcpStream> = (0..150)
        .map(|_| TcpStream::connect(s.addr).unwrap())
        .collect();
    for _ in 0..50 {
        let mut c = TcpStream::connect(s.addr).unwrap();
        c.write_all(b"POST /messageQueue HTTP/1.1\r\nHost: x\r\nAuthoriz")
            .unwrap();
        idle.push(c);
    }
    still_serving(&s, &w);
    drop(idle);
    still_serving(&s, &w);
}
