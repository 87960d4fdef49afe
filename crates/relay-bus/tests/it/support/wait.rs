//! Waiting for what the bus delivers, with deadlines that only keep a broken bus from hanging
//! the tests: nothing is asserted about time.

use std::time::Duration;

use bytes::Bytes;
use relay_bus::{Bus, BusMessage, PublishError, Status, Subject, Subscription};

pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

/// The next message, failing the test if none comes before the deadline or the stream ends.
pub(crate) async fn next(sub: &mut Subscription) -> BusMessage {
    tokio::time::timeout(DEADLINE, sub.next())
        .await
        .expect("a message before the deadline")
        .expect("the subscription is open")
}

/// Every message up to (not including) the first whose payload is `end`.
pub(crate) async fn until(sub: &mut Subscription, end: &str) -> Vec<BusMessage> {
    let mut seen = Vec::new();
    loop {
        let m = next(sub).await;
        if m.payload == end.as_bytes() {
            return seen;
        }
        seen.push(m);
    }
}

/// Publishes, waiting for room while the outgoing buffer is full (a caller that must not drop
/// a message would do the same).
pub(crate) async fn publish(bus: &Bus, subject: &Subject, payload: impl Into<Bytes>) {
    let payload = payload.into();
    loop {
        match bus.publish(subject, payload.clone()) {
            Ok(()) => return,
            Err(PublishError::Full { .. }) => tokio::time::sleep(Duration::from_millis(1)).await,
            Err(e) => panic!("publish failed: {e}"),
        }
    }
}

/// Waits until the bus's status satisfies `want`.
pub(crate) async fn status(bus: &Bus, what: &str, want: impl FnMut(&Status) -> bool) {
    let mut rx = bus.status();
    tokio::time::timeout(DEADLINE, rx.wait_for(want))
        .await
        .unwrap_or_else(|_| panic!("the bus never became {what}: {:?}", *bus.status().borrow()))
        .expect("the status sender lives as long as the bus");
}
