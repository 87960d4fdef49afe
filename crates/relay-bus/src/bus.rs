//! `Bus`: the one interface nodes talk through, in process or over NATS.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::{mpsc, watch};

use crate::error::{BusError, PublishError};
use crate::local::LocalBus;
use crate::message::{BusMessage, Echo, NODE_HEADER};
use crate::nats::NatsBus;
use crate::node::NodeId;
use crate::status::Status;
use crate::subject::{Filter, Subject};

/// How a bus buffers and reconnects. The defaults suit a node; tests shrink them.
#[derive(Clone, Debug)]
pub struct Options {
    /// Messages a NATS bus holds for the network before `publish` answers
    /// [`PublishError::Full`]. The local bus has no such buffer.
    pub outgoing_capacity: usize,
    /// Messages a subscription holds before it misses new ones (NATS calls such a subscriber
    /// slow).
    pub subscription_capacity: usize,
    /// How long connecting to NATS may take at start, and how long a subscription waits for
    /// the server to confirm it.
    pub connect_timeout: Duration,
    /// The longest pause between two attempts to reconnect to NATS.
    pub reconnect_max_delay: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            outgoing_capacity: 8192,
            subscription_capacity: 65_536,
            connect_timeout: Duration::from_secs(5),
            reconnect_max_delay: Duration::from_secs(2),
        }
    }
}

/// A node's bus: publish bytes on a subject, subscribe to subjects, watch the connection.
/// Clones share one connection.
#[derive(Clone)]
pub enum Bus {
    /// In process, for one node (or several nodes run in one process): the default, and the
    /// fastest.
    Local(LocalBus),
    /// Over a NATS server, between nodes.
    Nats(NatsBus),
}

impl Bus {
    /// `None` gives the local bus; `nats://HOST:PORT` connects to that NATS server, failing if
    /// it cannot be reached now. Once connected, a lost connection is made again for as long
    /// as the bus lives, with its subscriptions, and [`Bus::status`] tells meanwhile.
    pub async fn connect(
        url: Option<&str>,
        node: NodeId,
        options: Options,
    ) -> Result<Bus, BusError> {
        match url {
            None => Ok(Bus::local(node, options)),
            Some(url) => Ok(Bus::Nats(NatsBus::connect(url, node, &options).await?)),
        }
    }

    /// The local bus, for one process.
    pub fn local(node: NodeId, options: Options) -> Bus {
        Bus::Local(LocalBus::new(node, options.subscription_capacity))
    }

    /// The id this node publishes under: every message carries it (in the local envelope, or
    /// in the NATS header [`NODE_HEADER`]).
    pub fn node(&self) -> &NodeId {
        match self {
            Bus::Local(b) => b.node(),
            Bus::Nats(b) => b.node(),
        }
    }

    /// Hands `payload` to the bus for `subject` and returns at once, never waiting for the
    /// network. Delivery is at most once: a subscriber that is slow, or a node cut off from
    /// NATS, misses messages.
    pub fn publish(&self, subject: &Subject, payload: Bytes) -> Result<(), PublishError> {
        match self {
            Bus::Local(b) => b.publish(subject, payload),
            Bus::Nats(b) => b.publish(subject, payload),
        }
    }

    /// The messages published on subjects `filter` matches from the time this returns on,
    /// each publisher's messages on one subject in the order it published them.
    pub async fn subscribe(&self, filter: &Filter, echo: Echo) -> Result<Subscription, BusError> {
        let inner = match self {
            Bus::Local(b) => Inner::Local(b.subscribe(filter.clone(), echo)?),
            Bus::Nats(b) => Inner::Nats {
                subscriber: b.subscribe(filter).await?,
                skip: (echo == Echo::Skip).then(|| b.node().clone()),
            },
        };
        Ok(Subscription { inner })
    }

    /// The connection's status now and as it changes. The local bus is `Connected` until it is
    /// closed.
    pub fn status(&self) -> watch::Receiver<Status> {
        match self {
            Bus::Local(b) => b.status(),
            Bus::Nats(b) => b.status(),
        }
    }

    /// Closes the bus: publishing fails from now on and subscriptions end. A NATS bus first
    /// sends what its outgoing buffer holds, if it can.
    pub async fn close(&self) {
        match self {
            Bus::Local(b) => b.close(),
            Bus::Nats(b) => b.close().await,
        }
    }
}

/// A stream of the messages a subscription receives; it ends when the bus is closed.
/// Dropping it unsubscribes.
pub struct Subscription {
    inner: Inner,
}

enum Inner {
    Local(mpsc::Receiver<BusMessage>),
    Nats {
        subscriber: async_nats::Subscriber,
        skip: Option<NodeId>,
    },
}

impl Subscription {
    /// The next message, `None` once the bus is closed.
    pub async fn next(&mut self) -> Option<BusMessage> {
        futures_util::StreamExt::next(self).await
    }
}

impl Stream for Subscription {
    type Item = BusMessage;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<BusMessage>> {
        match &mut self.get_mut().inner {
            Inner::Local(rx) => rx.poll_recv(cx),
            Inner::Nats { subscriber, skip } => loop {
                let Some(message) = futures_util::ready!(Pin::new(&mut *subscriber).poll_next(cx))
                else {
                    return Poll::Ready(None);
                };
                let origin = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(NODE_HEADER))
                    .and_then(|v| NodeId::new(v.as_str()).ok());
                let Some(origin) = origin else {
                    tracing::debug!(subject = %message.subject, "a bus message without a node id was ignored");
                    continue;
                };
                if skip.as_ref() == Some(&origin) {
                    continue;
                }
                return Poll::Ready(Some(BusMessage {
                    subject: Subject::trusted(message.subject.as_str()),
                    origin,
                    payload: message.payload,
                }));
            },
        }
    }
}
