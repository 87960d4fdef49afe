//! Model-based test: long random sequences of every queue operation, in both dialects, checked
//! step by step against a small reference model of the protocol's rules (sections 3 and 6), with
//! restarts in between. Deterministic seeds, so a failure replays exactly.

use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::{json, Value};

const NODES: [&str; 3] = ["a1", "b2", "c3"];
const STEPS: usize = 400;
const SEEDS: [u64; 3] = [0x5eed_0001, 0xdead_beef, 0x0123_4567_89ab];

/// xorshift64*: enough randomness for choosing operations, and reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Dialect {
    V1,
    V2,
}

#[derive(Clone, Debug)]
struct Msg {
    id: String,
    src: String,
    dst: String,
    status: &'static str,
    tries: u32,
    payload: Value,
}

impl Msg {
    fn involves(&self, node: &str) -> bool {
        self.src == node || self.dst == node
    }
    fn waiting(&self) -> bool {
        self.status == "pending" || self.status == "scheduled"
    }
    fn may_change(&self, node: &str, d: Dialect) -> bool {
        match d {
            Dialect::V1 => self.involves(node),
            Dialect::V2 => self.src == node && self.waiting(),
        }
    }
}

struct Model {
    msgs: Vec<Msg>,
    /// Ids that existed once, so operations also hit deleted messages.
    known: Vec<String>,
}

fn with_identity(req: Request, d: Dialect, node: &str) -> Request {
    match d {
        Dialect::V1 => req.from(node),
        Dialect::V2 => req.source(node),
    }
}

fn status_header(r: &Response) -> String {
    r.sc("Status").to_string()
}

fn run(seed: u64) {
    let mut s = Server::start();
    let mut rng = Rng(seed);
    let mut m = Model {
        msgs: Vec::new(),
        known: vec!["0123456789abcdef01234567".to_string()],
    };
    for step in 0..STEPS {
        let d = if rng.below(2) == 0 {
            Dialect::V1
        } else {
            Dialect::V2
        };
        let node = rng.pick(&NODES);
        let ctx = format!("seed {seed:#x} step {step} as {node} ({d:?})");
        let some_id = m.known[rng.below(m.known.len())].clone();
        match rng.below(20) {
            0..=5 => {
                let dst = rng.pick(&NODES);
                let payload = json!({"step": step});
                let scheduled = rng.below(6) == 0;
                let mut req = s.req("POST", "/messageQueue");
                req = match d {
                    Dialect::V1 => req.from(node).to(dst),
                    Dialect::V2 => req.source(node).dest(dst),
                };
                if scheduled {
                    req = req
                        .header("Scirocco-Status", "scheduled")
                        .header("Scirocco-Scheduled-Time", "2099-01-01T00:00:00Z");
                }
                let r = req.json(&payload).send();
                assert_eq!(r.status, 201, "{ctx}: push {}", r.describe());
                let status = if scheduled { "scheduled" } else { "pending" };
                assert_eq!(status_header(&r), status, "{ctx}");
                m.known.push(r.id());
                m.msgs.push(Msg {
                    id: r.id(),
                    src: node.into(),
                    dst: dst.into(),
                    status,
                    tries: 0,
                    payload,
                });
            }
            6..=8 => {
                let r = with_identity(s.req("GET", "/messageQueue"), d, node).send();
                match m
                    .msgs
                    .iter_mut()
                    .find(|x| x.dst == node && x.status == "pending")
                {
                    Some(x) => {
                        assert_eq!(
                            r.status,
                            200,
                            "{ctx}: pull should give {}: {}",
                            x.id,
                            r.describe()
                        );
                        assert_eq!(r.id(), x.id, "{ctx}: pull order");
                        x.status = "processing";
                        x.tries += 1;
                        assert_eq!(
                            (status_header(&r), r.sc("Tries").to_string()),
                            ("processing".into(), x.tries.to_string()),
                            "{ctx}"
                        );
                        assert_eq!(r.json(), x.payload, "{ctx}");
                    }
                    None => assert_eq!(
                        r.status,
                        204,
                        "{ctx}: pull should be empty: {}",
                        r.describe()
                    ),
                }
            }
            9..=10 => {
                let r = with_identity(
                    s.req("PATCH", &format!("/messageQueue/{some_id}/ack")),
                    d,
                    node,
                )
                .send();
                match m
                    .msgs
                    .iter_mut()
                    .find(|x| x.id == some_id && x.dst == node && x.status == "processing")
                {
                    Some(x) => {
                        assert_eq!(r.status, 200, "{ctx}: ack {some_id}: {}", r.describe());
                        x.status = "processed";
                        assert_eq!(status_header(&r), "processed", "{ctx}");
                    }
                    None => assert_error(&r, 404, RESOURCE_NOT_FOUND),
                }
            }
            11..=12 => {
                let r =
                    with_identity(s.req("GET", &format!("/messages/{some_id}")), d, node).send();
                match m.msgs.iter().find(|x| x.id == some_id && x.involves(node)) {
                    Some(x) => {
                        assert_eq!(r.status, 200, "{ctx}: get {some_id}: {}", r.describe());
                        assert_eq!(
                            (status_header(&r), r.sc("Tries").to_string(), r.json()),
                            (x.status.to_string(), x.tries.to_string(), x.payload.clone()),
                            "{ctx}: get {some_id}"
                        );
                    }
                    None => assert_error(&r, 404, RESOURCE_NOT_FOUND),
                }
            }
            13..=14 => {
                let payload = json!({"updated_at": step});
                let r = with_identity(s.req("PATCH", &format!("/messages/{some_id}")), d, node)
                    .json(&payload)
                    .send();
                match m
                    .msgs
                    .iter_mut()
                    .find(|x| x.id == some_id && x.may_change(node, d))
                {
                    Some(x) => {
                        assert_eq!(r.status, 200, "{ctx}: update {some_id}: {}", r.describe());
                        x.payload = payload.clone();
                        assert_eq!(
                            (status_header(&r), r.json()),
                            (x.status.to_string(), payload),
                            "{ctx}"
                        );
                    }
                    None => assert_error(&r, 404, RESOURCE_NOT_FOUND),
                }
            }
            15 => {
                let r =
                    with_identity(s.req("DELETE", &format!("/messages/{some_id}")), d, node).send();
                let before = m.msgs.len();
                m.msgs
                    .retain(|x| !(x.id == some_id && x.may_change(node, d)));
                let n = (before - m.msgs.len()) as u64;
                assert_eq!(
                    r.expect(200).json(),
                    json!({"n": n, "ok": 1}),
                    "{ctx}: delete {some_id}"
                );
            }
            16 => {
                // Rarer than the others, so the store keeps some history.
                if rng.below(3) != 0 {
                    continue;
                }
                let r = with_identity(s.req("DELETE", "/messages"), d, node).send();
                let before = m.msgs.len();
                m.msgs.retain(|x| !x.may_change(node, d));
                let n = (before - m.msgs.len()) as u64;
                assert_eq!(
                    r.expect(200).json(),
                    json!({"n": n, "ok": 1}),
                    "{ctx}: delete all"
                );
            }
            17..=18 => check_list(&s, &m, node, d, &ctx),
            _ => {
                if rng.below(4) == 0 {
                    s.restart();
                    for n in NODES {
                        check_list(&s, &m, n, Dialect::V1, &format!("{ctx} after restart"));
                    }
                }
            }
        }
    }
    for n in NODES {
        check_list(
            &s,
            &m,
            n,
            Dialect::V2,
            &format!("seed {seed:#x} at the end"),
        );
    }
}

fn check_list(s: &Server, m: &Model, node: &str, d: Dialect, ctx: &str) {
    let r = with_identity(s.req("GET", "/messages"), d, node).send();
    let want: Vec<&Msg> = m
        .msgs
        .iter()
        .filter(|x| x.involves(node))
        .take(100)
        .collect();
    if want.is_empty() {
        assert_eq!(
            r.status,
            204,
            "{ctx}: list of {node} should be empty: {}",
            r.describe()
        );
        return;
    }
    let got = r.expect(200).json();
    let got = got.as_array().unwrap();
    let payload_key = if d == Dialect::V1 { "data" } else { "payload" };
    let summary = |v: &Value| {
        (
            v["_id"].as_str().unwrap_or("").to_string(),
            v["status"].as_str().unwrap_or("").to_string(),
            v["tries"].as_u64().unwrap_or(99),
            v[payload_key].clone(),
        )
    };
    let got: Vec<_> = got.iter().map(summary).collect();
    let want: Vec<_> = want
        .iter()
        .map(|x| {
            (
                x.id.clone(),
                x.status.to_string(),
                x.tries as u64,
                x.payload.clone(),
            )
        })
        .collect();
    assert_eq!(got, want, "{ctx}: list of {node}");
}

#[test]
fn random_operation_sequences_match_the_model() {
    for seed in SEEDS {
        run(seed);
    }
}
