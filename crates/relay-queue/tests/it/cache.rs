//! The engine with a cache far smaller than what it stores: every answer must still be whole,
//! read back from the store, and the cache must stay within its bound.

use std::sync::Arc;

use bytes::Bytes;
use relay_queue::{Access, Engine, EngineConfig, HookDoc, Message, RedbStore};
use relay_wire::queue::{ContentKind, Payload, Status};

use crate::support::new;

const SMALL_CACHE: usize = 32 << 10;

fn open(dir: &std::path::Path, cache_bytes: usize) -> Arc<Engine> {
    let store = RedbStore::open(&dir.join("queue.redb")).unwrap();
    let config = EngineConfig {
        cache_bytes,
        ..EngineConfig::default()
    };
    Engine::open(Arc::new(store), config).unwrap()
}

fn body(i: usize) -> String {
    format!("message {i:05} {}", "x".repeat(100))
}

#[tokio::test]
async fn more_than_the_cache_holds_reads_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), SMALL_CACHE);
    let n = 2_000;
    let mut pushed = Vec::new();
    for i in 0..n {
        let mut m = new("a1", &format!("d{}", i % 5), &body(i));
        m.label = format!("label {i}");
        pushed.push(e.push(m).await.unwrap());
    }
    let mem = e.memory();
    assert_eq!(mem.messages, n);
    assert!(
        mem.cache_bytes <= SMALL_CACHE,
        "cache {} bytes, bound {SMALL_CACHE}",
        mem.cache_bytes
    );
    assert!(mem.cached_messages < n / 4, "{mem:?}");

    // Oldest first, so every get is a miss.
    for (i, m) in pushed.iter().enumerate() {
        let got = e.get("a1", m.id).await.unwrap().unwrap();
        assert_eq!(&got.message, m);
        assert_eq!(got.payload.data, body(i));
    }
    let listed = e.list("a1", n).await.unwrap();
    assert_eq!(listed, pushed, "the list is whole and in order");
    for m in listed.into_iter().step_by(97) {
        let i = pushed.iter().position(|p| p.id == m.id).unwrap();
        let got = e.listed_payload(m).await.unwrap().unwrap();
        assert_eq!(got.payload.data, body(i));
    }
    for d in 0..5 {
        let node = format!("d{d}");
        for i in (d..n).step_by(5) {
            let got = e.pull(&node).await.unwrap().unwrap();
            assert_eq!(got.message.id, pushed[i].id, "FIFO per destination");
            assert_eq!(got.message.label, format!("label {i}"));
            assert_eq!(got.message.tries, 1);
            assert_eq!(got.payload.data, body(i));
            if i % 2 == 0 {
                let acked = e.ack(&node, got.message.id).await.unwrap().unwrap();
                assert_eq!(acked.message.status, Status::Processed);
                assert_eq!(acked.message.tries, 1);
                assert_eq!(acked.payload.data, body(i));
            }
        }
        assert!(e.pull(&node).await.unwrap().is_none());
    }
    assert!(e.memory().cache_bytes <= SMALL_CACHE);
    let counts: u64 = e.counts().iter().map(|(_, c)| c.processed).sum();
    assert_eq!(counts, (n / 2) as u64);
}

#[tokio::test]
async fn a_cache_of_nothing_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), 0);
    let id = e.push(new("a1", "b2", "one")).await.unwrap().id;
    let updated = e
        .update(
            "a1",
            id,
            Access::Involved,
            Payload {
                kind: ContentKind::Text,
                data: Bytes::from_static(b"two"),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert!(updated.message.update_time.is_some());
    let got = e.pull("b2").await.unwrap().unwrap();
    assert_eq!(got.payload.data, "two");
    assert_eq!(got.message.update_time, got.message.processing_time);
    assert_eq!(e.memory().cached_messages, 0);
}

/// Every field of a message, in every state, is the same after a restart (the index is rebuilt
/// from the store and the rest is read from it).
#[tokio::test]
async fn every_field_reads_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let before: Vec<Message> = {
        let e = open(dir.path(), SMALL_CACHE);
        let mut later = new("s1", "r1", "later");
        later.status = Status::Scheduled;
        later.scheduled_time = Some(relay_queue::now_ms() + 3_600_000);
        later.label = "scheduled one".into();
        let scheduled = e.push(later).await.unwrap().id;
        let pending = e.push(new("s1", "r1", "pending")).await.unwrap().id;
        let doc = HookDoc {
            id: None,
            source: "s2".into(),
            destination: "r2".into(),
            status: Status::Pending,
            label: "hooked".into(),
            payload: Payload {
                kind: ContentKind::Json,
                data: Bytes::from_static(b"{\"k\":1}"),
            },
            scheduled_time: None,
            tries: 7,
            topic: Some("a topic".into()),
        };
        let hooked = e.hook_insert(vec![doc]).await.unwrap()[0];
        let processing = e.pull("r2").await.unwrap().unwrap().message.id;
        let processed = e.pull("r1").await.unwrap().unwrap().message.id;
        e.ack("r1", processed).await.unwrap().unwrap();
        assert_eq!(processing, hooked);
        assert_eq!(processed, pending);
        let mut all = Vec::new();
        for id in [scheduled, pending, hooked] {
            let node = if id == hooked { "s2" } else { "s1" };
            all.push(e.get(node, id).await.unwrap().unwrap().message);
        }
        all
    };
    // Several times over, since each open must rebuild the same index.
    for _ in 0..2 {
        let e = open(dir.path(), SMALL_CACHE);
        assert_eq!(
            e.memory().cached_messages,
            0,
            "nothing is read whole at start-up"
        );
        for m in &before {
            let got = e.get(&m.source, m.id).await.unwrap().unwrap();
            assert_eq!(&got.message, m);
            let by_destination = e.get(&m.destination, m.id).await.unwrap().unwrap();
            assert_eq!(&by_destination.message, m);
        }
        assert_eq!(before[2].topic.as_deref(), Some("a topic"));
        assert_eq!(before[2].tries, 8);
        assert_eq!(
            e.get("s2", before[2].id).await.unwrap().unwrap().payload,
            Payload {
                kind: ContentKind::Json,
                data: Bytes::from_static(b"{\"k\":1}"),
            }
        );
        let listed = e.list("s1", 10).await.unwrap();
        assert_eq!(listed, before[..2].to_vec());
        assert!(
            e.pull("r1").await.unwrap().is_none(),
            "the scheduled one is not due"
        );
        assert!(e.may_change("s1", before[0].id, Access::SenderWhileWaiting));
        assert!(!e.may_change("s1", before[1].id, Access::SenderWhileWaiting));
        assert!(!e.may_change("nobody", before[1].id, Access::Involved));
        drop(e);
    }
}
