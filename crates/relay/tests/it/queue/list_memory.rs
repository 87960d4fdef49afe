//! `GET /messages` with large payloads: what the server holds while several clients list at
//! once. Measured on the real server through the kernel's peak resident size (VmHWM), reset
//! with /proc/<pid>/clear_refs just before the lists start.

use crate::support::queue_http::*;
use crate::support::server::*;

const MIB: usize = 1 << 20;
/// Six messages of 2 MiB: one list answer carries 12 MiB of payload, 16 MiB as base64.
const MESSAGES: usize = 6;
const PAYLOAD: usize = 2 * MIB;
const CLIENTS: usize = 3;

fn status_kib(pid: u32, field: &str) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in {status}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn concurrent_lists_of_large_messages_hold_far_less_than_their_answers() {
    let s = Server::with(
        Options::default().env("SCIROCCO_MAX_KB_SIZE_RAW", (PAYLOAD / 1024).to_string()),
    );
    let payloads: Vec<Vec<u8>> = (0..MESSAGES)
        .map(|i| {
            (0..PAYLOAD)
                .map(|j| (j * 7 + i * 13 + j / 4096) as u8)
                .collect()
        })
        .collect();
    for p in &payloads {
        s.req("POST", "/messageQueue")
            .source("a1")
            .dest("b2")
            .bytes(p)
            .send()
            .expect(201);
    }
    // One list first, checked in full: it also brings the store's pages into its cache.
    let r = s.req("GET", "/messages").source("a1").send().expect(200);
    let listed = r.json();
    let listed = listed.as_array().expect("a JSON array");
    assert_eq!(listed.len(), MESSAGES);
    for (item, p) in listed.iter().zip(&payloads) {
        assert_eq!(item["payload"].as_str().map(str::len), Some(b64(p).len()));
        assert!(
            item["payload"] == b64(p),
            "a listed payload differs from the pushed one"
        );
    }
    let answer_len = r.body.len();

    let pid = s.pid();
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset the peak resident size");
    let before_kib = status_kib(pid, "VmRSS:");
    let answers: Vec<Response> = std::thread::scope(|scope| {
        let lists: Vec<_> = (0..CLIENTS)
            .map(|_| scope.spawn(|| s.req("GET", "/messages").source("a1").send()))
            .collect();
        lists.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let grew = (status_kib(pid, "VmHWM:").saturating_sub(before_kib)) * 1024;
    for a in &answers {
        assert_eq!(a.status, 200);
        assert!(
            a.body == r.body,
            "a concurrent answer differs from the first one"
        );
    }
    // Built whole, each answer held its payloads and its text at once: the peak grew by about
    // 54 MiB here. Streamed, each holds about one payload and a few pieces of text.
    assert!(
        grew < answer_len,
        "{CLIENTS} concurrent lists of {answer_len} bytes each grew the server's resident size by {} MiB",
        grew / MIB
    );
}

/// Every kind of payload, several times the size of one streamed piece, with characters that
/// need escaping and characters of several bytes wherever the pieces are cut.
#[test]
fn streamed_list_elements_are_whole_for_every_kind() {
    let s = Server::with(
        Options::default()
            .env("SCIROCCO_MAX_KB_SIZE_JSON", "1024")
            .env("SCIROCCO_MAX_KB_SIZE_TEXT", "1024"),
    );
    let text: String = (0..40_000)
        .map(|i| ["é", "\"", "\\", "\n", "\u{1}", "a", "😀", "</"][i % 8])
        .collect();
    let doc = serde_json::json!({"text": text, "list": (0..20_000).collect::<Vec<u32>>()});
    let bytes: Vec<u8> = (0..200_001u32).map(|i| (i * 31 % 251) as u8).collect();
    s.req("POST", "/messageQueue")
        .source("a1")
        .dest("b2")
        .text(&text)
        .send()
        .expect(201);
    s.req("POST", "/messageQueue")
        .source("a1")
        .dest("b2")
        .json(&doc)
        .send()
        .expect(201);
    s.req("POST", "/messageQueue")
        .source("a1")
        .dest("b2")
        .bytes(&bytes)
        .send()
        .expect(201);
    s.req("POST", "/messageQueue")
        .source("a1")
        .dest("b2")
        .bytes(b"")
        .send()
        .expect(201);
    s.req("POST", "/messageQueue")
        .source("a1")
        .dest("b2")
        .text("")
        .send()
        .expect(201);
    for v1 in [false, true] {
        let req = s.req("GET", "/messages");
        let r = if v1 { req.from("b2") } else { req.source("a1") }
            .send()
            .expect(200);
        assert_eq!(r.content_type(), Some(JSON_CT));
        let listed = r.json();
        let key = if v1 { "data" } else { "payload" };
        let payloads: Vec<&serde_json::Value> =
            listed.as_array().unwrap().iter().map(|m| &m[key]).collect();
        assert_eq!(
            payloads,
            [
                &serde_json::json!(text),
                &doc,
                &serde_json::json!(b64(&bytes)),
                &serde_json::json!(""),
                &serde_json::json!("")
            ]
        );
    }
}
