//! `relay channel watch` across a reconnect, against a scripted peer. After the watch logs in
//! again it asks to resume where it was; a message that reaches the new socket live before the
//! server handles that resume is also part of the replay (the server replays the log from the
//! asked offset, whatever the connection got meanwhile). The watch must show it once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use relay_wire::websocket::{accept_key, header, parse, Masking, Parsed, OP_CLOSE, OP_TEXT};
use serde_json::{json, Value};

use crate::support::BIN;
const CH: &str = "ch1";

/// One accepted WebSocket, server side.
struct Peer {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Peer {
    fn accept(listener: &TcpListener) -> Peer {
        let (tcp, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(tcp.try_clone().unwrap());
        let mut key = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("sec-websocket-key") {
                    key = value.trim().to_owned();
                }
            }
        }
        let mut tcp = tcp;
        let accept = accept_key(key.as_bytes());
        write!(tcp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n").unwrap();
        Peer {
            tcp,
            buf: reader.buffer().to_vec(),
        }
    }

    /// The next text frame from the client, as JSON.
    fn recv(&mut self) -> Value {
        loop {
            match parse(&mut self.buf, 1 << 20, Masking::Required) {
                Parsed::Frame {
                    opcode,
                    payload,
                    len,
                    ..
                } => {
                    let text = self.buf[payload].to_vec();
                    self.buf.drain(..len);
                    if opcode == OP_TEXT {
                        return serde_json::from_slice(&text).unwrap();
                    }
                }
                Parsed::Incomplete { .. } => {
                    let mut chunk = [0u8; 4096];
                    let n = self.tcp.read(&mut chunk).unwrap();
                    assert!(n > 0, "the client closed the socket");
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                Parsed::Error(code, why) => panic!("{code} {why}"),
            }
        }
    }

    /// The next frame of `kind`, answering any heartbeat on the way.
    fn expect(&mut self, kind: &str) -> Value {
        loop {
            let f = self.recv();
            if f["type"] == kind {
                return f;
            }
            if f["type"] == "heartbeat" {
                self.copy(&f, json!({}));
            }
        }
    }

    fn send(&mut self, v: &Value) {
        let text = v.to_string();
        let (h, n) = header(OP_TEXT, text.len());
        self.tcp.write_all(&h[..n as usize]).unwrap();
        self.tcp.write_all(text.as_bytes()).unwrap();
    }

    fn copy(&mut self, request: &Value, context: Value) {
        self.send(&json!({"type": "copy", "body": {"request_id": request["request_id"], "origin_type": request["type"], "status": true, "context": context}}));
    }

    fn message(&mut self, offset: u64) {
        self.send(&json!({"type": "message_down", "epoch": "e1", "offset": offset, "body": {"channel_id": CH, "sender": "ann", "subtype": "text", "content": {"text": format!("number {offset}")}}}));
    }

    fn resume_copy(&mut self, request: &Value, next_offset: u64) {
        self.copy(request, json!({"epoch": "e1", "replayed": 0, "gap": false, "first_offset": 0, "next_offset": next_offset, "more": false}));
    }

    fn close(mut self) {
        let (h, n) = header(OP_CLOSE, 2);
        self.tcp.write_all(&h[..n as usize]).unwrap();
        self.tcp.write_all(&1000u16.to_be_bytes()).unwrap();
    }
}

fn script(listener: TcpListener) {
    // First socket: the watch starts at the end of the log (offset 5), sees message 5, and the
    // socket is then taken away.
    let mut p = Peer::accept(&listener);
    let login = p.expect("user_login");
    p.copy(&login, json!({}));
    let start = p.expect("resume");
    assert_eq!(start["body"].get("from"), None, "{start}");
    p.resume_copy(&start, 5);
    p.message(5);
    std::thread::sleep(Duration::from_millis(300));
    p.close();

    // Second socket: message 6 reaches it live before its resume is handled; the resume from
    // 6 then replays 6; message 7 follows live.
    let mut p = Peer::accept(&listener);
    let login = p.expect("user_login");
    p.copy(&login, json!({}));
    let resume = p.expect("resume");
    assert_eq!(resume["body"]["from"], 6, "{resume}");
    p.message(6);
    p.message(6);
    p.resume_copy(&resume, 7);
    p.message(7);
    std::thread::sleep(Duration::from_millis(500));
}

#[test]
fn a_message_both_delivered_live_and_replayed_is_shown_once() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("session.json");
    let s = json!({"server": format!("http://127.0.0.1:{port}"), "email": "ben@example.com", "user_id": "ben", "access_token": "t", "refresh_token": "r"});
    std::fs::write(&session, s.to_string()).unwrap();
    let peer = std::thread::spawn(move || script(listener));

    let mut watch = Command::new(BIN)
        .args(["channel", "watch", CH, "--count", "3", "--session"])
        .arg(&session)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while watch.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = watch.kill();
            panic!("the watch never ended");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = std::io::read_to_string(watch.stdout.take().unwrap()).unwrap();
    assert_eq!(
        out,
        "#5 ann: number 5\n#6 ann: number 6\n#7 ann: number 7\n"
    );
    peer.join().unwrap();
}
