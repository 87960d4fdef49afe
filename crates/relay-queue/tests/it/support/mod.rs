//! Messages the engine tests push, shared by the embedded and PostgreSQL suites.

use bytes::Bytes;
use relay_queue::{Engine, NewMessage};
use relay_wire::queue::{ContentKind, MessageId, Payload, Status};

pub(crate) fn text(s: &str) -> Payload {
    Payload {
        kind: ContentKind::Text,
        data: Bytes::from(s.to_string()),
    }
}

/// A pending text message.
pub(crate) fn new(from: &str, to: &str, body: &str) -> NewMessage {
    NewMessage {
        source: from.into(),
        destination: to.into(),
        status: Status::Pending,
        scheduled_time: None,
        label: "text/plain".into(),
        payload: text(body),
    }
}

/// Ids of one message in each state, as `leave_one_message_in_each_state` makes them.
pub(crate) struct StateIds {
    pub pending: MessageId,
    pub processing: MessageId,
    pub processed: MessageId,
}

/// Pushes three messages from `a1` and leaves one pending (for `b2`), one processing (`c3`)
/// and one processed (`d4`).
pub(crate) async fn leave_one_message_in_each_state(e: &Engine) -> StateIds {
    let pending = e.push(new("a1", "b2", "p")).await.unwrap().id;
    let processing = e.push(new("a1", "c3", "q")).await.unwrap().id;
    let processed = e.push(new("a1", "d4", "r")).await.unwrap().id;
    assert!(
        e.pull("a1").await.unwrap().is_none(),
        "the sender's pull sees nothing"
    );
    let got = e.pull("c3").await.unwrap().unwrap();
    assert_eq!(
        (got.message.id, got.payload.data.as_ref()),
        (processing, &b"q"[..])
    );
    e.pull("d4").await.unwrap().unwrap();
    let acked = e.ack("d4", processed).await.unwrap().unwrap();
    assert_eq!(acked.message.status, Status::Processed);
    StateIds {
        pending,
        processing,
        processed,
    }
}

/// Checks, on an engine opened again over the same store, that each message kept its state and
/// that a new push lands after the old ones.
pub(crate) async fn assert_states_kept(e: &Engine, ids: &StateIds) {
    let get = |id| async move { e.get("a1", id).await.unwrap().unwrap() };
    assert_eq!(get(ids.pending).await.message.status, Status::Pending);
    let p = get(ids.processing).await;
    assert_eq!((p.message.status, p.message.tries), (Status::Processing, 1));
    let done = get(ids.processed).await;
    assert_eq!(done.message.status, Status::Processed);
    assert_eq!(done.payload.data, "r");
    e.push(new("a1", "b2", "after")).await.unwrap();
    assert_eq!(e.pull("b2").await.unwrap().unwrap().payload.data, "p");
    assert_eq!(e.pull("b2").await.unwrap().unwrap().payload.data, "after");
    assert!(e.pull("b2").await.unwrap().is_none());
}

/// Pulls `node`'s inbox empty from `tasks` concurrent tasks; every id pulled, in no order.
pub(crate) async fn pull_concurrently(
    e: &std::sync::Arc<Engine>,
    node: &'static str,
    tasks: usize,
) -> Vec<MessageId> {
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let e = e.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(s) = e.pull(node).await.unwrap() {
                    assert!(
                        s.payload.data.starts_with(b"m"),
                        "payload read back: {:?}",
                        s.payload.data
                    );
                    got.push(s.message.id);
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    all
}
