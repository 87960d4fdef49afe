//! NATS over WebSocket: the protocol parser and the subscriber/publisher sockets.

use std::time::{Duration, Instant};

use anyhow::bail;
use relay_wire::websocket::OP_BINARY;

use super::ws::{Event, Ws};

/// Splits the NATS protocol byte stream (which WebSocket frames cut anywhere) into operations.
#[derive(Default)]
pub(crate) struct NatsParser {
    pub(crate) buf: Vec<u8>,
}

pub(crate) enum NatsOp<'a> {
    Msg(&'a [u8]),
    Ping,
    Pong,
    Other,
}

impl NatsParser {
    pub(crate) fn push(&mut self, data: &[u8], mut on: impl FnMut(NatsOp<'_>)) {
        self.buf.extend_from_slice(data);
        let mut pos = 0;
        while let Some(nl) = self.buf[pos..].iter().position(|&b| b == b'\n') {
            let line = &self.buf[pos..pos + nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.starts_with(b"MSG ") {
                let len: usize = std::str::from_utf8(line)
                    .ok()
                    .and_then(|l| l.rsplit(' ').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let start = pos + nl + 1;
                if self.buf.len() < start + len + 2 {
                    break;
                }
                on(NatsOp::Msg(&self.buf[start..start + len]));
                pos = start + len + 2;
            } else {
                on(match line {
                    b"PING" => NatsOp::Ping,
                    b"PONG" => NatsOp::Pong,
                    _ => NatsOp::Other,
                });
                pos += nl + 1;
            }
        }
        self.buf.drain(..pos);
    }
}

pub(crate) async fn nats_socket(url: &str, subscribe: bool) -> anyhow::Result<Ws> {
    let mut ws = Ws::connect(url).await?;
    let mut init =
        String::from("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":false}\r\n");
    if subscribe {
        init.push_str("SUB bench 1\r\n");
    }
    init.push_str("PING\r\n");
    ws.send(OP_BINARY, init.as_bytes()).await?;
    let mut p = NatsParser::default();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut pong = false;
        ws.drain(|e| {
            if let Event::Data(_, d) = e {
                p.push(d, |op| pong |= matches!(op, NatsOp::Pong));
            }
        })
        .await?;
        if pong {
            return Ok(ws);
        }
        match tokio::time::timeout_at(deadline.into(), ws.read_more()).await {
            Ok(Ok(n)) if n > 0 => {}
            Ok(Ok(_)) => bail!("closed"),
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => bail!("no PONG"),
        }
    }
}
