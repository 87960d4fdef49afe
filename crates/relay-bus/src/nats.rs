//! The bus over a NATS server (core pub/sub): what one node publishes reaches every node
//! subscribed, at most once, in the order one node published it on one subject.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::{ConnectOptions, Event, HeaderMap};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use crate::error::{BusError, PublishError};
use crate::message::NODE_HEADER;
use crate::node::NodeId;
use crate::status::{Status, Tracker};
use crate::subject::{Filter, Subject};
use crate::Options;

/// Commands the NATS client queues ahead of its connection (its default is 2,048).
const CLIENT_QUEUE: usize = 256;

/// A node's connection to a NATS server. Clones share it.
#[derive(Clone)]
pub struct NatsBus {
    inner: Arc<Inner>,
}

struct Inner {
    client: async_nats::Client,
    node: NodeId,
    outgoing: mpsc::Sender<(Subject, Bytes)>,
    capacity: usize,
    tracker: Arc<Tracker>,
    closing: AtomicBool,
    close: Arc<Notify>,
    send_task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    confirm_within: Duration,
}

impl NatsBus {
    pub(crate) async fn connect(
        url: &str,
        node: NodeId,
        options: &Options,
    ) -> Result<Self, BusError> {
        if !url.starts_with("nats://") || url.len() == "nats://".len() {
            return Err(BusError::Url {
                url: url.to_owned(),
            });
        }
        let tracker = Arc::new(Tracker::new(url.to_owned()));
        let events = tracker.clone();
        let max_delay = options.reconnect_max_delay;
        let client = ConnectOptions::new()
            .name(format!("relay {node}"))
            // Forever: a node keeps serving its own sockets while NATS is away.
            .max_reconnects(None)
            .reconnect_delay_callback(move |attempts| backoff(attempts, max_delay))
            .connection_timeout(options.connect_timeout)
            .subscription_capacity(options.subscription_capacity.max(1))
            // The client's own command queue stays small, so that the outgoing buffer is
            // where messages wait and `publish` can tell when it is full.
            .client_capacity(CLIENT_QUEUE)
            .event_callback(move |event| {
                let events = events.clone();
                async move {
                    match event {
                        Event::Disconnected => events.lost(),
                        Event::Connected => events.back(),
                        Event::Closed => events.closed(),
                        Event::SlowConsumer(sid) => {
                            tracing::debug!(sid, "a bus subscription missed messages: it was full")
                        }
                        other => tracing::debug!(event = %other, "bus event"),
                    }
                }
            })
            .connect(url)
            .await
            .map_err(|source| BusError::Connect {
                url: url.to_owned(),
                source,
            })?;
        let capacity = options.outgoing_capacity.max(1);
        let (outgoing, rx) = mpsc::channel(capacity);
        let close = Arc::new(Notify::new());
        let inner = Arc::new(Inner {
            client: client.clone(),
            node: node.clone(),
            outgoing,
            capacity,
            tracker,
            closing: AtomicBool::new(false),
            close: close.clone(),
            send_task: tokio::sync::Mutex::new(None),
            confirm_within: options.connect_timeout,
        });
        let task = tokio::spawn(send_loop(client, node, rx, close));
        *inner.send_task.lock().await = Some(task);
        Ok(NatsBus { inner })
    }

    pub(crate) fn node(&self) -> &NodeId {
        &self.inner.node
    }

    pub(crate) fn publish(&self, subject: &Subject, payload: Bytes) -> Result<(), PublishError> {
        if self.inner.closing.load(Ordering::Acquire) {
            return Err(PublishError::Closed);
        }
        self.inner
            .outgoing
            .try_send((subject.clone(), payload))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => PublishError::Full {
                    capacity: self.inner.capacity,
                },
                mpsc::error::TrySendError::Closed(_) => PublishError::Closed,
            })
    }

    /// Returns once the server has the subscription (a probe sent after it on the same
    /// connection came back), so that whatever another node publishes from then on reaches
    /// it. While the connection is down it does not wait for the probe: the client sends the
    /// subscription again when it reconnects (though with the client's queue full of
    /// publications, handing it over waits for the connection).
    pub(crate) async fn subscribe(
        &self,
        filter: &Filter,
    ) -> Result<async_nats::Subscriber, BusError> {
        if self.inner.closing.load(Ordering::Acquire) {
            return Err(BusError::Closed);
        }
        let client = &self.inner.client;
        let subscriber = client
            .subscribe(filter.as_str().to_owned())
            .await
            .map_err(|source| BusError::Subscribe {
                filter: filter.to_string(),
                source,
            })?;
        if self.inner.tracker.current() == Status::Connected {
            let inbox = client.new_inbox();
            let confirmed = async {
                let mut probe = client.subscribe(inbox.clone()).await.ok()?;
                client.publish(inbox, Bytes::new()).await.ok()?;
                probe.next().await
            };
            if tokio::time::timeout(self.inner.confirm_within, confirmed)
                .await
                .ok()
                .flatten()
                .is_none()
            {
                tracing::debug!(%filter, "NATS did not confirm a subscription; it is kept");
            }
        }
        Ok(subscriber)
    }

    pub(crate) fn status(&self) -> watch::Receiver<Status> {
        self.inner.tracker.watch()
    }

    /// Sends what the outgoing buffer holds, then closes the connection and with it the
    /// subscriptions. While NATS is away neither can happen: closing gives up after
    /// `connect_timeout`, dropping what is buffered, and the subscriptions then end when they
    /// are dropped.
    pub(crate) async fn close(&self) {
        self.inner.closing.store(true, Ordering::Release);
        self.inner.close.notify_one();
        let task = self.inner.send_task.lock().await.take();
        let abort = task.as_ref().map(JoinHandle::abort_handle);
        let finish = async {
            if let Some(task) = task {
                let _ = task.await;
            }
            let _ = self.inner.client.drain().await;
        };
        if tokio::time::timeout(self.inner.confirm_within, finish)
            .await
            .is_err()
        {
            if let Some(abort) = abort {
                abort.abort();
            }
            tracing::debug!("the bus closed without sending its buffer: NATS is away");
        }
        self.inner.tracker.closed();
    }
}

/// Moves messages from the outgoing buffer to the client, whose own queue waits while the
/// connection is down; that wait is what lets the buffer fill and `publish` say so.
async fn send_loop(
    client: async_nats::Client,
    node: NodeId,
    mut rx: mpsc::Receiver<(Subject, Bytes)>,
    close: Arc<Notify>,
) {
    let mut failing = false;
    let send = |subject: Subject, payload: Bytes| {
        let client = client.clone();
        let node = node.clone();
        async move {
            let mut headers = HeaderMap::new();
            headers.insert(NODE_HEADER, node.as_str());
            client
                .publish_with_headers(subject.as_str().to_owned(), headers, payload)
                .await
        }
    };
    loop {
        let next = tokio::select! {
            biased;
            next = rx.recv() => next,
            () = close.notified() => break,
        };
        let Some((subject, payload)) = next else {
            return;
        };
        match send(subject, payload).await {
            Ok(()) => failing = false,
            Err(e) if !failing => {
                failing = true;
                tracing::debug!(error = %e, "the bus could not hand a message to NATS");
            }
            Err(_) => {}
        }
    }
    rx.close();
    while let Some((subject, payload)) = rx.recv().await {
        let _ = send(subject, payload).await;
    }
    let _ = client.flush().await;
}

/// No wait before the first attempt, then doubling from 50 ms up to `max`.
fn backoff(attempts: usize, max: Duration) -> Duration {
    if attempts <= 1 {
        return Duration::ZERO;
    }
    let exp = u32::try_from(attempts - 2).unwrap_or(u32::MAX).min(16);
    Duration::from_millis(50u64.saturating_mul(1 << exp)).min(max)
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_up_to_its_ceiling() {
        let max = Duration::from_secs(2);
        let waits: Vec<u128> = (1..10).map(|a| backoff(a, max).as_millis()).collect();
        assert_eq!(waits, [0, 50, 100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(backoff(usize::MAX, max), max);
    }
}
