//! The workload's client for Relay: the queue face's v2 dialect over one HTTP keep-alive
//! connection per client, one node (and so one inbox) per client, pushing to itself.

use std::net::SocketAddr;

use anyhow::{bail, Context};
use bytes::Bytes;

use super::http::Http;
use super::workload::Cycle;

pub(crate) struct RelayCycle {
    http: Http,
    /// `Host`, `Authorization` and `Scirocco-Node-Source`: the lines every request carries.
    common: String,
    node: String,
    payload: Bytes,
    pushed: Option<String>,
}

impl RelayCycle {
    pub(crate) async fn new(
        addr: SocketAddr,
        token: &str,
        node: &str,
        payload: Bytes,
    ) -> anyhow::Result<RelayCycle> {
        let common =
            format!("Host: {addr}\r\nAuthorization: {token}\r\nScirocco-Node-Source: {node}\r\n");
        let http = Http::connect(addr).await?;
        Ok(RelayCycle {
            http,
            common,
            node: node.to_owned(),
            payload,
            pushed: None,
        })
    }
}

impl Cycle for RelayCycle {
    async fn push(&mut self) -> anyhow::Result<()> {
        let mut req = format!(
            "POST /messageQueue HTTP/1.1\r\n{}Scirocco-Node-Destination: {}\r\n\
             Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            self.common,
            self.node,
            self.payload.len()
        )
        .into_bytes();
        req.extend_from_slice(&self.payload);
        let resp = self.http.call(&req).await?;
        if resp.status != 201 {
            bail!(
                "push answered {}: {}",
                resp.status,
                String::from_utf8_lossy(&resp.body)
            );
        }
        self.pushed = Some(
            resp.header("Scirocco-Id")
                .context("push answer without Scirocco-Id")?
                .to_owned(),
        );
        Ok(())
    }

    async fn pull_ack(&mut self) -> anyhow::Result<()> {
        let req = format!("GET /messageQueue HTTP/1.1\r\n{}\r\n", self.common);
        let resp = self.http.call(req.as_bytes()).await?;
        if resp.status != 200 {
            bail!("pull right after a push answered {}", resp.status);
        }
        let id = resp
            .header("Scirocco-Id")
            .context("pull answer without Scirocco-Id")?
            .to_owned();
        // Each client owns its inbox, so FIFO means it gets back exactly what it pushed.
        if self.pushed.as_deref() != Some(id.as_str()) {
            bail!("pulled {id} but pushed {:?}", self.pushed);
        }
        let req = format!(
            "PATCH /messageQueue/{id}/ack HTTP/1.1\r\n{}Content-Length: 0\r\n\r\n",
            self.common
        );
        let resp = self.http.call(req.as_bytes()).await?;
        if resp.status != 200 {
            bail!(
                "ack answered {}: {}",
                resp.status,
                String::from_utf8_lossy(&resp.body)
            );
        }
        Ok(())
    }
}
