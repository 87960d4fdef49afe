//! Acknowledged means on disk, on the channel face too: a service publishes `message_down` to a
//! user as fast as its copies come back, the server is killed (`kill -9`) in the middle of it
//! and started again, and a resume from offset 0 must hold every message whose `copy` the
//! publisher got and every message the recipient saw, each once.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::channel::setup;
use crate::support::server::Server;
use relay_wire::websocket::{self, Masking, Parsed};
use serde_json::{json, Value};

/// Frames a publisher keeps unacknowledged at most.
const WINDOW: usize = 256;
/// How long each round publishes before the crash.
const PUBLISH_FOR: Duration = Duration::from_millis(1500);
/// Rounds of publish and crash (one crash does not always catch a commit under way).
const ROUNDS: usize = 3;

/// A raw WebSocket whose reader thread keeps every text frame, counting the copies.
struct Tap {
    tcp: TcpStream,
    frames: Arc<Mutex<Vec<Value>>>,
    copies: Arc<AtomicUsize>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Tap {
    fn open(s: &Server) -> Tap {
        let tcp = s.raw_ws();
        let mut rd = tcp.try_clone().unwrap();
        let frames: Arc<Mutex<Vec<Value>>> = Default::default();
        let copies: Arc<AtomicUsize> = Default::default();
        let (f, c) = (frames.clone(), copies.clone());
        let reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 1 << 16];
            loop {
                while let Parsed::Frame {
                    opcode,
                    payload,
                    len,
                    ..
                } = websocket::parse(&mut buf, usize::MAX, Masking::Forbidden)
                {
                    if opcode == websocket::OP_TEXT {
                        let v: Value = serde_json::from_slice(&buf[payload]).unwrap();
                        let is_copy = v["type"] == "copy";
                        f.lock().unwrap().push(v);
                        if is_copy {
                            c.fetch_add(1, Ordering::Release);
                        }
                    }
                    buf.drain(..len);
                }
                match rd.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        });
        Tap {
            tcp,
            frames,
            copies,
            reader: Some(reader),
        }
    }

    fn send_all(&self, frames: &[Value]) -> bool {
        let mut out = Vec::new();
        for v in frames {
            websocket::masked_frame(
                websocket::OP_TEXT,
                v.to_string().as_bytes(),
                [3, 1, 4, 1],
                &mut out,
            );
        }
        (&self.tcp).write_all(&out).is_ok()
    }

    /// Sends `v` with `request_id` set to `rid` and returns the body of its copy.
    fn request(&self, mut v: Value, rid: &str) -> Value {
        v["request_id"] = rid.into();
        assert!(self.send_all(&[v]), "the connection is gone");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self
                .frames
                .lock()
                .unwrap()
                .iter()
                .find(|f| f["type"] == "copy" && f["body"]["request_id"] == rid)
                .cloned();
            if let Some(f) = found {
                return f["body"].clone();
            }
            assert!(Instant::now() < deadline, "timed out waiting for {rid}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Every frame received until the server closed the connection.
    fn until_closed(mut self) -> Vec<Value> {
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        std::mem::take(&mut *self.frames.lock().unwrap())
    }
}

fn login_user(ws: &Tap, token: &str) {
    let copy = ws.request(
        json!({"type": "user_login", "auth_origin": "cognito", "access_token": token}),
        "login",
    );
    assert_eq!(copy["status"], true, "{copy}");
}

fn message_down(ch: &str, group: &str, text: &str) -> Value {
    json!({"type": "message_down", "request_id": text, "body": {"subtype": "text", "channel_id": ch, "content": {"text": text}, "recipients": group, "timestamp": 1, "context": {}, "sender": "no_sender"}})
}

fn text_of(f: &Value) -> String {
    f["body"]["content"]["text"].as_str().unwrap().to_owned()
}

/// Publishes until the connection dies: `message_down` frames in bursts, as many as keep
/// `WINDOW` of them unacknowledged.
fn publish(ws: &Tap, ch: &str, group: &str, prefix: &str) {
    // The login's copy is not one of them.
    let before = ws.copies.load(Ordering::Acquire);
    let mut sent = 0usize;
    loop {
        let acked = ws.copies.load(Ordering::Acquire) - before;
        if sent - acked < WINDOW / 2 {
            let burst: Vec<Value> = (sent..acked + WINDOW)
                .map(|i| message_down(ch, group, &format!("{prefix}{i}")))
                .collect();
            if !ws.send_all(&burst) {
                return;
            }
            sent = acked + WINDOW;
        } else {
            std::thread::sleep(Duration::from_micros(200));
        }
        if ws.reader.as_ref().is_some_and(|r| r.is_finished()) {
            return;
        }
    }
}

/// Every `message_down` of the channel's log, oldest first, by resuming from offset 0.
fn history(ws: &Tap, ch: &str) -> Vec<(String, u64)> {
    let mut from = 0u64;
    for k in 0.. {
        let rid = format!("resume-{k}");
        let copy = ws.request(
            json!({"type": "resume", "body": {"channel_id": ch, "from": from}}),
            &rid,
        );
        assert_eq!(copy["status"], true, "{copy}");
        let ctx = &copy["context"];
        from = ctx["next_offset"].as_u64().unwrap();
        if ctx["more"] != true {
            break;
        }
    }
    ws.frames
        .lock()
        .unwrap()
        .iter()
        .filter(|f| f["type"] == "message_down")
        .map(|f| (text_of(f), f["offset"].as_u64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_or_delivered_message_survives_a_kill_9() {
    let s = Server::start();
    let st = setup(&s).await;
    let group = st
        .owner
        .create_service_group(std::slice::from_ref(&st.user_id))
        .await
        .unwrap();
    let owner_token = st.owner.access_token.clone().unwrap();
    let user_token = st.user.access_token.clone().unwrap();
    let (ch, sid) = (st.ch.clone(), st.sid.clone());
    tokio::task::spawn_blocking(move || {
        let mut s = s;
        // Joined once: the membership is on disk before the join's copy.
        let user = Tap::open(&s);
        login_user(&user, &user_token);
        let join = user.request(
            json!({"type": "action", "body": {"subtype": "join_channel", "channel_id": ch, "context": {}}}),
            "join",
        );
        assert_eq!(join["status"], true, "{join}");
        user.tcp.shutdown(std::net::Shutdown::Both).unwrap();
        drop(user.until_closed());

        for round in 0..ROUNDS {
            let prefix = format!("r{round}-m");
            let user = Tap::open(&s);
            login_user(&user, &user_token);
            let svc = Tap::open(&s);
            let login = svc.request(
                json!({"type": "service_login", "access_token": owner_token, "service_id": sid}),
                "login",
            );
            assert_eq!(login["status"], true, "{login}");

            let crash_at = Instant::now() + PUBLISH_FOR;
            std::thread::scope(|scope| {
                scope.spawn(|| publish(&svc, &ch, &group, &prefix));
                std::thread::sleep(crash_at.saturating_duration_since(Instant::now()));
                s.crash_and_restart();
            });

            // What the publisher and the recipient got before the server died.
            let acked: Vec<String> = svc
                .until_closed()
                .into_iter()
                .filter(|f| f["type"] == "copy" && f["body"]["status"] == true)
                .filter_map(|f| f["body"]["request_id"].as_str().map(str::to_owned))
                .filter(|r| r.starts_with(&prefix))
                .collect();
            let delivered: Vec<String> = user
                .until_closed()
                .into_iter()
                .filter(|f| f["type"] == "message_down")
                .map(|f| text_of(&f))
                .collect();
            assert!(acked.len() > 100, "only {} copies in round {round}", acked.len());

            let reader = Tap::open(&s);
            login_user(&reader, &user_token);
            let logged = history(&reader, &ch);
            let mut in_log = HashSet::new();
            for (text, offset) in &logged {
                assert!(
                    in_log.insert(text.clone()),
                    "{text} twice in the log (again at offset {offset})"
                );
            }
            let mut seen = HashSet::new();
            for text in &delivered {
                assert!(seen.insert(text), "{text} delivered twice");
            }
            let lost_acked: Vec<&String> = acked.iter().filter(|t| !in_log.contains(*t)).collect();
            let lost_seen: Vec<&String> = delivered
                .iter()
                .filter(|t| !in_log.contains(*t))
                .collect();
            assert!(
                lost_acked.is_empty() && lost_seen.is_empty(),
                "round {round}: {} of {} acknowledged and {} of {} delivered messages are not in the log after the crash (first lost: {:?})",
                lost_acked.len(),
                acked.len(),
                lost_seen.len(),
                delivered.len(),
                lost_acked.first().or(lost_seen.first()),
            );
            eprintln!(
                "round {round}: {} acknowledged, {} delivered, all in the log",
                acked.len(),
                delivered.len()
            );
            reader.tcp.shutdown(std::net::Shutdown::Both).unwrap();
            drop(reader.until_closed());
        }
    })
    .await
    .unwrap();
}
