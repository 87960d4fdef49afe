//! A minimal beanstalkd client over its text protocol: just the commands the workload needs.

use std::net::SocketAddr;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub(crate) struct Beanstalk {
    conn: BufReader<TcpStream>,
    line: String,
}

impl Beanstalk {
    /// Connects and makes `tube` both the tube `put` uses and the only one `reserve` watches.
    pub(crate) async fn connect(addr: SocketAddr, tube: &str) -> anyhow::Result<Beanstalk> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to beanstalkd at {addr}"))?;
        stream.set_nodelay(true)?;
        let mut b = Beanstalk {
            conn: BufReader::new(stream),
            line: String::new(),
        };
        b.command(format!("use {tube}\r\n").as_bytes(), "USING")
            .await?;
        b.command(format!("watch {tube}\r\n").as_bytes(), "WATCHING")
            .await?;
        b.command(b"ignore default\r\n", "WATCHING").await?;
        Ok(b)
    }

    /// `put` with priority 0, no delay and a 60 s time-to-run; returns the job id.
    pub(crate) async fn put(&mut self, body: &[u8]) -> anyhow::Result<u64> {
        let mut req = format!("put 0 0 60 {}\r\n", body.len()).into_bytes();
        req.extend_from_slice(body);
        req.extend_from_slice(b"\r\n");
        let reply = self.command(&req, "INSERTED").await?;
        reply
            .parse()
            .with_context(|| format!("job id in {:?}", self.line))
    }

    /// `reserve`: blocks until a job is ready; returns its id and body.
    pub(crate) async fn reserve(&mut self) -> anyhow::Result<(u64, Vec<u8>)> {
        let reply = self.command(b"reserve\r\n", "RESERVED").await?;
        let mut parts = reply.split(' ');
        let (Some(id), Some(len)) = (parts.next(), parts.next()) else {
            bail!("bad reply {:?}", self.line)
        };
        let id: u64 = id.parse()?;
        let len: usize = len.parse()?;
        let mut body = vec![0; len + 2];
        self.conn.read_exact(&mut body).await?;
        body.truncate(len);
        Ok((id, body))
    }

    pub(crate) async fn delete(&mut self, id: u64) -> anyhow::Result<()> {
        self.command(format!("delete {id}\r\n").as_bytes(), "DELETED")
            .await?;
        Ok(())
    }

    /// Sends a request and checks the reply's first word; returns the rest of the reply line.
    async fn command(&mut self, req: &[u8], expect: &str) -> anyhow::Result<String> {
        self.conn.get_mut().write_all(req).await?;
        self.line.clear();
        if self.conn.read_line(&mut self.line).await? == 0 {
            bail!("beanstalkd closed the connection");
        }
        let reply = self.line.trim_end();
        match reply.split_once(' ') {
            Some((word, rest)) if word == expect => Ok(rest.to_owned()),
            None if reply == expect => Ok(String::new()),
            _ => bail!("beanstalkd answered {reply:?}, expected {expect}"),
        }
    }
}
