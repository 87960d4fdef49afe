//! The workload's client for beanstalkd: one connection and one tube per client.

use std::net::SocketAddr;

use anyhow::bail;

use super::beanstalk::Beanstalk;
use super::workload::Cycle;

pub(crate) struct BeanstalkCycle {
    conn: Beanstalk,
    payload: Vec<u8>,
    pushed: u64,
}

impl BeanstalkCycle {
    pub(crate) async fn new(
        addr: SocketAddr,
        tube: &str,
        payload: Vec<u8>,
    ) -> anyhow::Result<BeanstalkCycle> {
        Ok(BeanstalkCycle {
            conn: Beanstalk::connect(addr, tube).await?,
            payload,
            pushed: 0,
        })
    }
}

impl Cycle for BeanstalkCycle {
    async fn push(&mut self) -> anyhow::Result<()> {
        self.pushed = self.conn.put(&self.payload).await?;
        Ok(())
    }

    async fn pull_ack(&mut self) -> anyhow::Result<()> {
        let (id, _) = self.conn.reserve().await?;
        if id != self.pushed {
            bail!("reserved job {id} but put {}", self.pushed);
        }
        self.conn.delete(id).await
    }
}
