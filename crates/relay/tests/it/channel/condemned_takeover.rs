//! A socket whose login failed is closed 1.5 s later, whatever it sends meanwhile. A good login
//! on it in those 1.5 s must not take the identity over from the socket that holds it: the
//! older socket would be closed and the identity left with no socket at all.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::server::Server;
use relay_wire::websocket::{self, Masking, Parsed};
use serde_json::{json, Value};

struct Ws {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Ws {
    fn open(s: &Server) -> Ws {
        let tcp = s.raw_ws();
        tcp.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Ws {
            tcp,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, v: &Value) {
        let mut out = Vec::new();
        websocket::masked_frame(
            websocket::OP_TEXT,
            v.to_string().as_bytes(),
            [9, 8, 7, 6],
            &mut out,
        );
        self.tcp.write_all(&out).unwrap();
    }

    /// The next text frame as JSON; `Err` with the close reason (or "eof") if the socket closes.
    fn next(&mut self, within: Duration) -> Result<Value, String> {
        let start = Instant::now();
        loop {
            match websocket::parse(&mut self.buf, 1 << 21, Masking::Forbidden) {
                Parsed::Frame {
                    opcode,
                    payload,
                    len,
                    ..
                } => {
                    let data = self.buf[payload].to_vec();
                    self.buf.drain(..len);
                    match opcode {
                        websocket::OP_TEXT => return Ok(serde_json::from_slice(&data).unwrap()),
                        websocket::OP_CLOSE => {
                            return Err(
                                String::from_utf8_lossy(data.get(2..).unwrap_or(&[])).into_owned()
                            )
                        }
                        _ => continue,
                    }
                }
                Parsed::Incomplete { .. } => {}
                Parsed::Error(_, e) => panic!("bad frame from the server: {e}"),
            }
            assert!(start.elapsed() < within, "no frame within {within:?}");
            let mut chunk = [0u8; 4096];
            match self.tcp.read(&mut chunk) {
                Ok(0) => return Err("eof".into()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// The copy of request `rid`, skipping other frames.
    fn copy_of(&mut self, rid: &str) -> Result<Value, String> {
        loop {
            let f = self.next(Duration::from_secs(10))?;
            if f["type"] == "copy" && f["body"]["request_id"] == rid {
                return Ok(f);
            }
        }
    }
}

fn login(token: &str, rid: &str) -> Value {
    json!({"type": "user_login", "request_id": rid, "auth_origin": "cognito", "access_token": token})
}

#[tokio::test]
async fn a_good_login_on_a_socket_whose_login_failed_does_not_take_the_identity_over() {
    let s = Server::start();
    s.add_account("u@example.com", "pw");
    let mut http = relay_client::channel::ChannelHttp::new(&s.http()).unwrap();
    let (token, _) = http.sign_in("u@example.com", "pw").await.unwrap();

    let mut a = Ws::open(&s);
    a.send(&login(&token, "a1"));
    assert_eq!(a.copy_of("a1").unwrap()["body"]["status"], true);

    let mut b = Ws::open(&s);
    b.send(&login("bogus", "b1"));
    assert_eq!(b.copy_of("b1").unwrap()["body"]["status"], false);
    b.send(&login(&token, "b2"));
    // B is closed whatever it sends now.
    let end = loop {
        match b.next(Duration::from_secs(5)) {
            Ok(_) => continue,
            Err(reason) => break reason,
        }
    };
    assert!(end.contains("login failed") || end == "eof", "{end}");

    // A still holds the identity.
    a.send(&json!({"type": "heartbeat", "request_id": "a2", "body": {}}));
    match a.copy_of("a2") {
        Ok(c) => assert_eq!(c["body"]["status"], true, "{c}"),
        Err(reason) => panic!(
            "the logged-in socket was closed by a login on a socket already being closed: {reason}"
        ),
    }
}
