//! The workload's client for Relay: the crate's own queue client over HTTP keep-alive, one
//! node (and so one inbox) per client, pushing to itself.

use anyhow::{bail, Context};
use bytes::Bytes;
use relay_client::queue::{Payload, QueueClient};

use super::workload::Cycle;

pub struct RelayCycle {
    client: QueueClient,
    payload: Bytes,
    pushed: Option<String>,
}

impl RelayCycle {
    pub fn new(url: &str, token: &str, node: &str, payload: Bytes) -> anyhow::Result<RelayCycle> {
        Ok(RelayCycle { client: QueueClient::new(url, node, token)?, payload, pushed: None })
    }
}

impl Cycle for RelayCycle {
    async fn push(&mut self) -> anyhow::Result<()> {
        let node = self.client.node().to_owned();
        let msg = self.client.push(&node, Payload::Bytes(self.payload.clone())).await?;
        self.pushed = Some(msg.system.id);
        Ok(())
    }

    async fn pull_ack(&mut self) -> anyhow::Result<()> {
        let msg = self.client.pull().await?.context("pull found nothing right after a push")?;
        // Each client owns its inbox, so FIFO means it gets back exactly what it pushed.
        if self.pushed.as_deref() != Some(msg.system.id.as_str()) {
            bail!("pulled {} but pushed {:?}", msg.system.id, self.pushed);
        }
        self.client.ack(&msg.system.id).await?;
        Ok(())
    }
}
