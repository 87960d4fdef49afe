//! Checklist items 1, 3-8: authentication and transport rules of the queue face.
//! (Item 2, where the token comes from, is in queue_token.rs.)

use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::json;

const AUTH_FAILED: &str = "Incorrect auth token.";

#[test]
fn item_01_missing_or_wrong_token_is_403_everywhere() {
    let s = Server::start();
    let paths = [
        ("GET", "/"),
        ("GET", "/no/such/path"),
        ("GET", "/messageQueue"),
        ("POST", "/messageQueue"),
        ("GET", "/messages"),
        ("DELETE", "/messages"),
        ("DELETE", "/globalDataSpace"),
        ("PATCH", "/messageQueue/0123456789abcdef01234567/ack"),
    ];
    let wrong = [
        None,
        Some(String::new()),
        Some(format!("Bearer {TOKEN}")),
        Some(TOKEN.to_uppercase()),
        Some(format!("{TOKEN}x")),
        Some(TOKEN[..TOKEN.len() - 1].to_string()),
        Some("DEFAULT_TOKEN".to_string()),
    ];
    for (method, path) in paths {
        for auth in &wrong {
            let mut req = s.anon(method, path).from("a1").to("b2");
            if let Some(v) = auth {
                req = req.header("Authorization", v);
            }
            if method == "POST" {
                req = req.json(&json!({"a": 1}));
            }
            let r = req.send();
            assert_error(&r, 403, AUTH_FAILED);
        }
    }
    // Nothing was stored by the refused push.
    s.req("GET", "/messages").from("a1").send().expect(204);
}

#[test]
fn item_01_auth_is_checked_before_the_body() {
    // Recommended over the original order: a bad body without a token is a 403, not a 400.
    let s = Server::start();
    let r = s
        .anon("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .header("Content-Type", "application/json")
        .body("{bad")
        .send();
    assert_error(&r, 403, AUTH_FAILED);
    let r = s
        .anon("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .header("Content-Type", "image/png")
        .body("x")
        .send();
    assert_error(&r, 403, AUTH_FAILED);
}

#[test]
fn item_03_root_is_200_json() {
    let s = Server::start();
    let r = s.req("GET", "/").send().expect(200);
    assert_eq!(r.content_type(), Some(JSON_CT));
    assert!(r.json().is_object(), "{}", r.describe());
}

#[test]
fn item_04_paths_near_the_channel_face_still_belong_to_the_queue() {
    // The channel face owns only its exact API routes; anything else on the shared listener,
    // however close, gets the queue face's 403 / 404.
    let s = Server::start();
    for path in ["/user/nope", "/auth", "/channelx", "/service", "/ws/extra"] {
        assert_error(&s.anon("GET", path).send(), 403, AUTH_FAILED);
        assert_error(&s.req("GET", path).send(), 404, "Not Found");
    }
}

#[test]
fn item_04_unknown_path_is_404_not_found() {
    let s = Server::start();
    for (method, path) in [
        ("GET", "/no/such/path"),
        ("POST", "/batches"),
        ("GET", "/batchQueue"),
        ("DELETE", "/messageQueue"),
        ("PUT", "/messages"),
        ("POST", "/messages"),
        ("GET", "/messageQueue/0123456789abcdef01234567"),
        ("GET", "/messages/not-hex-at-all"),
    ] {
        let r = s.req(method, path).from("a1").send();
        assert_error(&r, 404, "Not Found");
    }
}

/// `Scirocco-created-time` → `Scirocco-Created-Time`.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[track_caller]
fn assert_title_case(r: &Response, must_have: &[&str]) {
    let names: Vec<&str> = r.headers.iter().map(|(k, _)| k.as_str()).collect();
    for name in &names {
        if name.to_ascii_lowercase().starts_with("scirocco-") {
            assert_eq!(
                *name,
                title_case(name),
                "header name not in Title-Case on the wire: {}",
                r.describe()
            );
        }
    }
    for want in must_have {
        assert!(
            names.contains(want),
            "no `{want}` header (exact case) in:\n{}",
            r.describe()
        );
    }
}

#[test]
fn item_05_header_names_title_case() {
    let s = Server::start();
    // v1: push, pull, ack, get, update.
    let push = s
        .req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .header("Scirocco-Data-Type", ".bin")
        .header("Scirocco-Status", "scheduled")
        .header("Scirocco-Scheduled-Time", &now_ms().to_string())
        .bytes(b"\x00\x01")
        .send()
        .expect(201);
    assert_title_case(
        &push,
        &[
            "Scirocco-Id",
            "Scirocco-From",
            "Scirocco-To",
            "Scirocco-Status",
            "Scirocco-Tries",
            "Scirocco-Created-Time",
            "Scirocco-Data-Type",
            "Scirocco-Scheduled-Time",
        ],
    );
    let id = push.id();
    let pull = s.pull("b2").expect(200);
    assert_title_case(
        &pull,
        &[
            "Scirocco-Id",
            "Scirocco-Update-Time",
            "Scirocco-Processing-Time",
        ],
    );
    let ack = s.ack("b2", &id).expect(200);
    assert_title_case(&ack, &["Scirocco-Id", "Scirocco-Processed-Time"]);
    assert_title_case(
        &s.get("a1", &id).expect(200),
        &["Scirocco-Id", "Scirocco-Status"],
    );
    let id2 = s.push("a1", "b2", &json!({"v": 1})).id();
    let upd = s
        .req("PATCH", &format!("/messages/{id2}"))
        .from("a1")
        .json(&json!({"v": 2}))
        .send()
        .expect(200);
    assert_title_case(&upd, &["Scirocco-Id", "Scirocco-Update-Time"]);
    // v2.
    let v2 = s
        .req("POST", "/messageQueue")
        .source("c3")
        .dest("d4")
        .header("Scirocco-Payload-Type", "x")
        .text("t")
        .send()
        .expect(201);
    assert_title_case(
        &v2,
        &[
            "Scirocco-Node-Source",
            "Scirocco-Node-Destination",
            "Scirocco-Payload-Type",
        ],
    );
}

#[test]
fn item_05_header_times_are_js_utc_strings() {
    let s = Server::start();
    let before = now_ms() / 1000;
    let push = s.push("a1", "b2", &json!({}));
    let created = push.sc("Created-Time");
    let t = parse_header_time(created).unwrap_or_else(|| {
        panic!("Created-Time {created:?} is not `Www Mmm DD YYYY HH:MM:SS GMT+0000 (UTC)`")
    });
    // Clock sanity (not a speed check): the stamp is the server's current UTC time.
    assert!(
        (t - before).abs() < 600,
        "Created-Time {created} is far from now"
    );
    let pull = s.pull("b2").expect(200);
    for h in ["Update-Time", "Processing-Time", "Created-Time"] {
        assert!(
            parse_header_time(pull.sc(h)).is_some(),
            "{h}: {:?}",
            pull.sc(h)
        );
    }
}

#[test]
fn item_06_json_responses_have_json_utf8_content_type() {
    let s = Server::start();
    let responses = [
        s.req("GET", "/").send(),
        s.req("GET", "/nope").send(),
        s.anon("GET", "/").send(),
        s.push("a1", "b2", &json!({"x": 1})),
        s.pull("b2"),
        s.req("DELETE", "/messages").from("a1").send(),
        s.req("POST", "/messageQueue")
            .from("a1")
            .text("no destination")
            .send(),
        s.ack("b2", "0123456789abcdef01234567"),
    ];
    for r in responses {
        assert_eq!(r.content_type(), Some(JSON_CT), "{}", r.describe());
    }
}

#[test]
fn item_07_get_and_delete_with_octet_stream_and_no_body() {
    let s = Server::start();
    let octet = |m: &str, p: &str, node: &str| {
        s.req(m, p)
            .from(node)
            .header("Content-Type", "application/octet-stream")
    };
    octet("GET", "/messageQueue", "b2").send().expect(204);
    octet("GET", "/messages", "a1").send().expect(204);
    let id = s.push("a1", "b2", &json!({"k": "v"})).id();
    assert_eq!(
        octet("GET", &format!("/messages/{id}"), "a1")
            .send()
            .expect(200)
            .json(),
        json!({"k": "v"})
    );
    assert_eq!(
        octet("GET", "/messageQueue", "b2").send().expect(200).id(),
        id
    );
    // The clients send ack as PATCH with octet-stream and Content-Length 0.
    octet("PATCH", &format!("/messageQueue/{id}/ack"), "b2")
        .header("Content-Length", "0")
        .send()
        .expect(200);
    assert_eq!(
        octet("GET", "/messages", "a1")
            .send()
            .expect(200)
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        octet("DELETE", &format!("/messages/{id}"), "a1")
            .send()
            .expect(200)
            .json(),
        json!({"n": 1, "ok": 1})
    );
    assert_eq!(
        octet("DELETE", "/messages", "a1").send().expect(200).json(),
        json!({"n": 0, "ok": 1})
    );
}

#[test]
fn item_08_listens_on_scirocco_port_on_loopback() {
    let port = free_port();
    let mut opts = Options::default().env("SCIROCCO_PORT", port.to_string());
    opts.listen = false;
    let s = Server::with(opts);
    assert_eq!(
        s.addr,
        format!("127.0.0.1:{port}").parse().unwrap(),
        "stderr:\n{}",
        s.log()
    );
    s.req("GET", "/").send().expect(200);
}

#[test]
fn transport_request_header_names_are_case_insensitive() {
    // HTTP/1.1 header names are case-insensitive; some clients send them in lower case.
    let s = Server::start();
    let r = s
        .anon("POST", "/messageQueue")
        .header("authorization", TOKEN)
        .header("scirocco-from", "a1")
        .header("SCIROCCO-TO", "b2")
        .header("content-type", "application/json")
        .header("scirocco-data-type", "lower")
        .body(r#"{"case": "insensitive"}"#)
        .send()
        .expect(201);
    assert_eq!(
        (r.sc("From"), r.sc("To"), r.sc("Data-Type")),
        ("a1", "b2", "lower")
    );
    let r = s
        .anon("GET", "/messageQueue")
        .header("AUTHORIZATION", TOKEN)
        .header("scirocco-node-source", "b2")
        .send()
        .expect(200);
    assert_eq!(r.sc("Node-Source"), "a1");
}

#[test]
fn transport_expect_100_continue() {
    // curl sends `Expect: 100-continue` for larger bodies and waits for the interim answer.
    use std::io::{BufRead, BufReader, Read, Write};
    let s = Server::start();
    let body = serde_json::to_vec(&json!({"pad": "x".repeat(4000)})).unwrap();
    let mut stream = std::net::TcpStream::connect(s.addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let head = format!(
        "POST /messageQueue HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nScirocco-From: a1\r\nScirocco-To: b2\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        s.addr,
        s.token,
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(
        line.starts_with("HTTP/1.1 100"),
        "expected 100 Continue, got {line:?}"
    );
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
    }
    stream.write_all(&body).unwrap();
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    assert!(rest.starts_with("HTTP/1.1 201"), "{rest}");
    assert!(rest.contains("Scirocco-Id: "), "{rest}");
    assert_eq!(
        s.pull("b2").expect(200).json()["pad"]
            .as_str()
            .map(str::len),
        Some(4000)
    );
}

#[test]
fn transport_keep_alive_serves_several_requests_on_one_connection() {
    // Section 2 rule 2: the clients reuse pooled connections.
    let s = Server::start();
    let mut conn = Conn::open(s.addr).unwrap();
    let id = conn
        .send(
            &s.req("POST", "/messageQueue")
                .from("a1")
                .to("b2")
                .json(&json!({"n": 1})),
        )
        .unwrap()
        .expect(201)
        .id();
    assert_eq!(
        conn.send(&s.req("GET", "/messageQueue").from("b2"))
            .unwrap()
            .expect(200)
            .id(),
        id
    );
    conn.send(&s.req("GET", "/messageQueue").from("b2"))
        .unwrap()
        .expect(204);
    conn.send(
        &s.req("PATCH", &format!("/messageQueue/{id}/ack"))
            .from("b2"),
    )
    .unwrap()
    .expect(200);
    conn.send(&s.req("GET", "/nope")).unwrap().expect(404);
    conn.send(&s.anon("GET", "/")).unwrap().expect(403);
    conn.send(&s.req("GET", "/")).unwrap().expect(200);
}
