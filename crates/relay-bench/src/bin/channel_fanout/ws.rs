//! A minimal WebSocket client over plain TCP, shared by both targets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{bail, Context};
use relay_wire::websocket::{
    self, Masking, Parsed, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A minimal RFC 6455 client over a plain TCP stream. Both servers are driven through this same
/// code, so the client's cost per delivered frame is the same for both: it reads whatever the
/// socket has, splits it into frames, and hands each complete payload to the caller without
/// copying it.
pub(crate) struct Ws {
    pub(crate) stream: TcpStream,
    pub(crate) buf: Vec<u8>,
    /// Start of the unread bytes in `buf`.
    pub(crate) pos: usize,
    /// Reassembly of a fragmented message (rare: neither server fragments small messages).
    pub(crate) partial: Vec<u8>,
    pub(crate) partial_op: u8,
    pub(crate) seed: u32,
}

/// One received data message (text or binary) or control frame.
pub(crate) enum Event<'a> {
    Data(u8, &'a [u8]),
    Closed,
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Ws {
    pub(crate) async fn connect(url: &str) -> anyhow::Result<Ws> {
        tokio::time::timeout(Duration::from_secs(10), Ws::handshake(url))
            .await
            .context("connect timed out")?
    }

    pub(crate) async fn handshake(url: &str) -> anyhow::Result<Ws> {
        let rest = url
            .strip_prefix("ws://")
            .context("only ws:// URLs are supported")?;
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let stream = TcpStream::connect(host).await?;
        stream.set_nodelay(true)?;
        static SEED: AtomicU64 = AtomicU64::new(0x9e37_79b9);
        let seed = (SEED.fetch_add(0x6d2b_79f5, Ordering::Relaxed) as u32) | 1;
        let mut ws = Ws {
            stream,
            buf: Vec::with_capacity(4096),
            pos: 0,
            partial: Vec::new(),
            partial_op: 0,
            seed,
        };
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        ws.stream.write_all(req.as_bytes()).await?;
        loop {
            if let Some(end) = find(&ws.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&ws.buf[..end]).into_owned();
                if !head.starts_with("HTTP/1.1 101") {
                    bail!("WebSocket handshake refused: {head}");
                }
                ws.pos = end + 4;
                return Ok(ws);
            }
            if ws.read_more().await? == 0 {
                bail!("closed during the WebSocket handshake");
            }
        }
    }

    /// Reads more bytes from the socket (0 = closed).
    pub(crate) async fn read_more(&mut self) -> std::io::Result<usize> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if self.buf.capacity() - self.buf.len() < 16 * 1024 {
            self.buf.reserve(64 * 1024);
        }
        self.stream.read_buf(&mut self.buf).await
    }

    /// The next complete frame already buffered: (fin, opcode, payload range in `buf`).
    pub(crate) fn next_frame(
        &mut self,
    ) -> anyhow::Result<Option<(bool, u8, std::ops::Range<usize>)>> {
        match websocket::parse(&mut self.buf[self.pos..], usize::MAX, Masking::Forbidden) {
            Parsed::Frame {
                fin,
                opcode,
                payload,
                len,
            } => {
                let range = self.pos + payload.start..self.pos + payload.end;
                self.pos += len;
                Ok(Some((fin, opcode, range)))
            }
            Parsed::Incomplete { .. } => Ok(None),
            Parsed::Error(code, why) => {
                bail!("the server broke the WebSocket protocol ({code}): {why}")
            }
        }
    }

    /// Hands every complete data message already buffered to `on` (answering pings), without
    /// reading the socket. Returns false once the server closed the connection.
    pub(crate) async fn drain(&mut self, mut on: impl FnMut(Event<'_>)) -> anyhow::Result<bool> {
        while let Some((fin, op, range)) = self.next_frame()? {
            match op {
                OP_TEXT | OP_BINARY if fin && self.partial.is_empty() => {
                    on(Event::Data(op, &self.buf[range]))
                }
                OP_TEXT | OP_BINARY | OP_CONT => {
                    if op != OP_CONT {
                        self.partial_op = op;
                    }
                    self.partial.extend_from_slice(&self.buf[range]);
                    if fin {
                        let data = std::mem::take(&mut self.partial);
                        on(Event::Data(self.partial_op, &data));
                    }
                }
                OP_PING => {
                    let payload = self.buf[range].to_vec();
                    self.send(OP_PONG, &payload).await?;
                }
                OP_CLOSE => {
                    on(Event::Closed);
                    return Ok(false);
                }
                _ => {}
            }
        }
        Ok(true)
    }

    /// Appends one masked client frame to `out`.
    pub(crate) fn encode(&mut self, opcode: u8, payload: &[u8], out: &mut Vec<u8>) {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 17;
        self.seed ^= self.seed << 5;
        websocket::masked_frame(opcode, payload, self.seed.to_be_bytes(), out);
    }

    pub(crate) async fn send(&mut self, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(payload.len() + 14);
        self.encode(opcode, payload, &mut out);
        self.stream.write_all(&out).await
    }

    pub(crate) async fn send_text(&mut self, text: &str) -> std::io::Result<()> {
        self.send(OP_TEXT, text.as_bytes()).await
    }

    /// The next text message (setup only: copies it).
    pub(crate) async fn next_text(&mut self) -> anyhow::Result<String> {
        loop {
            let mut got = None;
            let open = self.drain_one(&mut got).await?;
            if let Some(t) = got {
                return Ok(t);
            }
            if !open {
                bail!("closed");
            }
            if self.read_more().await? == 0 {
                bail!("closed");
            }
        }
    }

    pub(crate) async fn drain_one(&mut self, got: &mut Option<String>) -> anyhow::Result<bool> {
        // Like `drain`, but stops after the first data message so that later ones stay buffered.
        while got.is_none() {
            let Some((fin, op, range)) = self.next_frame()? else {
                break;
            };
            match op {
                OP_TEXT | OP_BINARY | OP_CONT => {
                    self.partial.extend_from_slice(&self.buf[range]);
                    if fin {
                        let data = std::mem::take(&mut self.partial);
                        *got = Some(String::from_utf8_lossy(&data).into_owned());
                    }
                }
                OP_PING => {
                    let payload = self.buf[range].to_vec();
                    self.send(OP_PONG, &payload).await?;
                }
                OP_CLOSE => return Ok(false),
                _ => {}
            }
        }
        Ok(true)
    }
}
