//! A minimal HTTP/1.1 keep-alive client for the workload: requests written as bytes, responses
//! read up to their `Content-Length`. The beanstalkd side is driven by an equally small client of
//! its text protocol, so that neither server's figures carry the cost of a general-purpose
//! client library running on the same cores.

use std::net::SocketAddr;

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub(crate) struct Http {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Bytes in `buf` that are already read from the socket.
    filled: usize,
}

pub(crate) struct Response {
    pub status: u16,
    /// Header block (names and values as sent).
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    /// The value of the first header named `name` (compared without case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

impl Http {
    pub(crate) async fn connect(addr: SocketAddr) -> anyhow::Result<Http> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Http {
            stream,
            buf: vec![0; 16 * 1024],
            filled: 0,
        })
    }

    /// Sends one request (a complete head and body) and reads its response.
    pub(crate) async fn call(&mut self, request: &[u8]) -> anyhow::Result<Response> {
        self.stream.write_all(request).await?;
        let head_end = loop {
            if let Some(i) = find(&self.buf[..self.filled], b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .context("response head is not UTF-8")?
            .to_owned();
        let status: u16 = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line in {head:?}"))?;
        let mut response = Response {
            status,
            head,
            body: Vec::new(),
        };
        let len: usize = match response.header("Content-Length") {
            Some(v) => v.parse().context("bad Content-Length")?,
            None => 0,
        };
        while self.filled < head_end + len {
            self.fill().await?;
        }
        response.body = self.buf[head_end..head_end + len].to_vec();
        self.buf.copy_within(head_end + len..self.filled, 0);
        self.filled -= head_end + len;
        Ok(response)
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        if self.filled == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = self.stream.read(&mut self.buf[self.filled..]).await?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        self.filled += n;
        Ok(())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
