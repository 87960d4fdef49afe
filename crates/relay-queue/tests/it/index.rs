//! The index keeps no id table: ids are rebuilt from seqs and found from their own parts. These
//! check that every id is still found, and only its own message, across restarts (each a new
//! run of ids), with ids named through the test hooks mixed in, and what the index costs.

use std::sync::Arc;

use relay_queue::{Engine, EngineConfig, HookDoc, RedbStore};
use relay_wire::queue::{MessageId, Status};

use crate::support::{new, text};

fn open(dir: &std::path::Path) -> Arc<Engine> {
    let store = RedbStore::open(&dir.join("queue.redb")).unwrap();
    Engine::open(Arc::new(store), EngineConfig::default()).unwrap()
}

fn named(id: MessageId, body: &str) -> HookDoc {
    HookDoc {
        id: Some(id),
        source: "a1".into(),
        destination: "b2".into(),
        status: Status::Pending,
        label: "text/plain".into(),
        payload: text(body),
        scheduled_time: None,
        tries: 0,
        topic: None,
    }
}

/// Ids a client might name: one counter apart, all zero but one byte, and unrelated.
fn odd_ids(round: u8) -> Vec<MessageId> {
    let mut ids = Vec::new();
    for k in 0..20u8 {
        let mut a = [0u8; 12];
        a[11] = k;
        a[0] = round;
        ids.push(MessageId(a));
        let mut b = [round; 12];
        b[9] = k.wrapping_mul(37);
        b[5] = k;
        ids.push(MessageId(b));
    }
    ids
}

/// A different id that shares everything with `id` but one counter step.
fn neighbour(id: MessageId) -> MessageId {
    let mut b = id.0;
    b[11] = b[11].wrapping_add(1);
    if b[11] == 0 {
        b[10] = b[10].wrapping_add(1);
    }
    MessageId(b)
}

#[tokio::test]
async fn every_id_finds_its_own_message_across_restarts_and_named_ids() {
    let dir = tempfile::tempdir().unwrap();
    let mut known: Vec<(MessageId, String)> = Vec::new();
    for round in 0..3u8 {
        let e = open(dir.path());
        for (id, body) in &known {
            let got = e
                .get("b2", *id)
                .await
                .unwrap()
                .expect("found after a restart");
            assert_eq!(got.message.id, *id);
            assert_eq!(got.payload.data, body.as_str());
        }
        for i in 0..300 {
            let body = format!("r{round}m{i}");
            let m = e.push(new("a1", "b2", &body)).await.unwrap();
            known.push((m.id, body));
            if i % 15 == 0 {
                let named_ids = odd_ids(round);
                let id = named_ids[(i / 15) % named_ids.len()];
                if known.iter().all(|(k, _)| *k != id) {
                    let body = format!("r{round}named{i}");
                    e.hook_insert(vec![named(id, &body)]).await.unwrap();
                    known.push((id, body));
                }
            }
        }
        for (id, body) in &known {
            let got = e.get("b2", *id).await.unwrap().expect("found");
            assert_eq!(got.message.id, *id);
            assert_eq!(got.payload.data, body.as_str());
            let near = neighbour(*id);
            if known.iter().all(|(k, _)| *k != near) {
                assert!(
                    e.get("b2", near).await.unwrap().is_none(),
                    "{near} is no message"
                );
            }
        }
        // Pulled and acked messages keep their ids as their state changes.
        let got = e.pull("b2").await.unwrap().unwrap();
        let acked = e.ack("b2", got.message.id).await.unwrap().unwrap();
        assert_eq!(acked.message.id, got.message.id);
        assert_eq!(
            e.get("b2", got.message.id)
                .await
                .unwrap()
                .unwrap()
                .message
                .status,
            Status::Processed
        );
        e.flush().await.unwrap();
    }
    let e = open(dir.path());
    assert_eq!(e.memory().messages, known.len());
    for (id, _) in &known {
        let deleted = e
            .delete("a1", *id, relay_queue::Access::Involved)
            .await
            .unwrap();
        assert_eq!(deleted, 1, "{id}");
    }
    assert_eq!(e.memory().messages, 0);
    for (id, _) in &known {
        assert!(e.get("a1", *id).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn a_pending_message_costs_the_index_under_64_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let n = 20_000;
    for i in 0..n {
        let m = new(&format!("s{}", i % 7), &format!("d{}", i % 50), "x");
        e.push(m).await.unwrap();
    }
    drop(e);
    let e = open(dir.path());
    let m = e.memory();
    assert_eq!(m.messages, n);
    let per = m.index_bytes as f64 / n as f64;
    assert!(per <= 64.0, "{per:.1} bytes a message");
}
