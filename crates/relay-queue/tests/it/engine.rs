//! The engine against the real embedded store in a temporary directory.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use relay_queue::{Access, Durability, Engine, EngineConfig, RedbStore};
use relay_wire::queue::Status;

use crate::support::{
    assert_states_kept, leave_one_message_in_each_state, new, pull_concurrently, text,
};

fn open(dir: &std::path::Path, config: EngineConfig) -> Arc<Engine> {
    let store = RedbStore::open(&dir.join("queue.redb")).unwrap();
    Engine::open(Arc::new(store), config).unwrap()
}

#[tokio::test]
async fn pulls_are_fifo_and_only_for_the_destination() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), EngineConfig::default());
    for i in 0..5 {
        e.push(new("a1", "b2", &format!("m{i}"))).await.unwrap();
    }
    assert!(
        e.pull("a1").await.unwrap().is_none(),
        "the sender's pull sees nothing"
    );
    for i in 0..5 {
        let got = e.pull("b2").await.unwrap().unwrap();
        assert_eq!(got.payload.data, format!("m{i}"));
        assert_eq!(got.message.status, Status::Processing);
        assert_eq!(got.message.tries, 1);
    }
    assert!(e.pull("b2").await.unwrap().is_none());
}

#[tokio::test]
async fn scheduled_messages_wait_for_their_time() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), EngineConfig::default());
    let mut later = new("a1", "b2", "later");
    later.status = Status::Scheduled;
    later.scheduled_time = Some(relay_queue::now_ms() + 300);
    e.push(later).await.unwrap();
    e.push(new("a1", "b2", "now")).await.unwrap();
    assert_eq!(e.pull("b2").await.unwrap().unwrap().payload.data, "now");
    assert!(e.pull("b2").await.unwrap().is_none());
    tokio::time::sleep(Duration::from_millis(350)).await;
    let got = e.pull("b2").await.unwrap().unwrap();
    assert_eq!(got.payload.data, "later");
    assert!(got.message.scheduled_time.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pulls_never_share_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), EngineConfig::default());
    for i in 0..200 {
        e.push(new("a1", "b2", &format!("m{i}"))).await.unwrap();
    }
    let all = pull_concurrently(&e, "b2", 16).await;
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 200);
    assert_eq!(unique.len(), 200);
}

#[tokio::test]
async fn every_state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ids = leave_one_message_in_each_state(&open(dir.path(), EngineConfig::default())).await;
    assert_states_kept(&open(dir.path(), EngineConfig::default()), &ids).await;
}

#[tokio::test]
async fn unacked_messages_return_after_the_visibility_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        visibility_timeout: Some(Duration::from_millis(50)),
        ..Default::default()
    };
    let e = open(dir.path(), config);
    e.push(new("a1", "b2", "x")).await.unwrap();
    let first = e.pull("b2").await.unwrap().unwrap();
    assert_eq!(e.maintain().await.unwrap(), (0, 0), "not yet timed out");
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(e.maintain().await.unwrap(), (1, 0));
    let again = e.pull("b2").await.unwrap().unwrap();
    assert_eq!(again.message.id, first.message.id);
    assert_eq!(again.message.tries, 2);
}

#[tokio::test]
async fn processed_messages_are_purged_after_retention() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        processed_retention: Some(Duration::from_millis(30)),
        ..Default::default()
    };
    let e = open(dir.path(), config);
    let id = e.push(new("a1", "b2", "x")).await.unwrap().id;
    e.pull("b2").await.unwrap().unwrap();
    e.ack("b2", id).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(e.maintain().await.unwrap(), (0, 1));
    assert!(e.get("a1", id).await.unwrap().is_none());
    drop(e);
    let e = open(dir.path(), EngineConfig::default());
    assert!(
        e.get("a1", id).await.unwrap().is_none(),
        "the purge is on disk"
    );
}

#[tokio::test]
async fn access_rules_differ_by_dialect() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), EngineConfig::default());
    let id = e.push(new("a1", "b2", "x")).await.unwrap().id;
    assert!(e
        .update("b2", id, Access::SenderWhileWaiting, text("y"))
        .await
        .unwrap()
        .is_none());
    assert!(e
        .update("b2", id, Access::Involved, text("y"))
        .await
        .unwrap()
        .is_some());
    e.pull("b2").await.unwrap().unwrap();
    assert_eq!(
        e.delete("a1", id, Access::SenderWhileWaiting)
            .await
            .unwrap(),
        0,
        "no longer waiting"
    );
    assert_eq!(e.delete("b2", id, Access::Involved).await.unwrap(), 1);
    assert_eq!(e.delete("b2", id, Access::Involved).await.unwrap(), 0);
}

#[tokio::test]
async fn relaxed_durability_reaches_disk() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        durability: Durability::Relaxed,
        ..Default::default()
    };
    let id = {
        let e = open(dir.path(), config);
        let id = e.push(new("a1", "b2", "x")).await.unwrap().id;
        e.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        id
    };
    let e = open(dir.path(), EngineConfig::default());
    assert!(e.get("a1", id).await.unwrap().is_some());
}

/// A store whose commits can be made to fail, as a full disk would.
struct FailingStore {
    inner: RedbStore,
    fail: std::sync::atomic::AtomicBool,
}

impl relay_queue::Store for FailingStore {
    fn load(&self) -> Result<Vec<relay_queue::Message>, relay_queue::StoreError> {
        self.inner.load()
    }
    fn commit(
        &self,
        changes: &[relay_queue::Change],
        durable: bool,
    ) -> Result<(), relay_queue::StoreError> {
        if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(std::io::Error::other("disk full").into());
        }
        self.inner.commit(changes, durable)
    }
    fn read_payload(&self, seq: u64) -> Result<Option<bytes::Bytes>, relay_queue::StoreError> {
        self.inner.read_payload(seq)
    }
    fn scan(
        &self,
        each: &mut dyn FnMut(relay_queue::IndexRecord<'_>),
    ) -> Result<(), relay_queue::StoreError> {
        self.inner.scan(each)
    }
    fn read_message(
        &self,
        seq: u64,
    ) -> Result<Option<(relay_queue::Message, bytes::Bytes)>, relay_queue::StoreError> {
        self.inner.read_message(seq)
    }
    fn read_records(
        &self,
        seqs: &[u64],
    ) -> Result<Vec<Option<relay_queue::Message>>, relay_queue::StoreError> {
        self.inner.read_records(seqs)
    }
}

#[tokio::test]
async fn a_refused_commit_leaves_memory_as_the_disk_has_it() {
    use std::sync::atomic::Ordering::SeqCst;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FailingStore {
        inner: RedbStore::open(&dir.path().join("queue.redb")).unwrap(),
        fail: Default::default(),
    });
    let e = Engine::open(store.clone(), EngineConfig::default()).unwrap();
    let first = e.push(new("a1", "b2", "one")).await.unwrap();

    store.fail.store(true, SeqCst);
    assert!(e.push(new("a1", "b2", "lost")).await.is_err());
    assert!(e.pull("b2").await.is_err());
    store.fail.store(false, SeqCst);
    let pulled = e
        .pull("b2")
        .await
        .unwrap()
        .expect("the failed pull left the message pending");
    assert_eq!((pulled.message.id, pulled.message.tries), (first.id, 1));
    assert!(
        e.pull("b2").await.unwrap().is_none(),
        "the failed push is not in memory either"
    );

    store.fail.store(true, SeqCst);
    assert!(e.ack("b2", first.id).await.is_err());
    assert!(e.delete("a1", first.id, Access::Involved).await.is_err());
    store.fail.store(false, SeqCst);
    let got = e
        .get("a1", first.id)
        .await
        .unwrap()
        .expect("the failed delete left the message");
    assert_eq!(
        got.message.status,
        Status::Processing,
        "the failed ack left it processing"
    );
    assert!(e.ack("b2", first.id).await.unwrap().is_some());
}

#[tokio::test]
async fn counts_follow_every_change_of_state_and_survive_a_reopen() {
    use relay_queue::Counts;
    let dir = tempfile::tempdir().unwrap();
    let counts = |e: &Engine| e.counts();
    {
        let e = open(dir.path(), EngineConfig::default());
        for i in 0..3 {
            e.push(new("a1", "b2", &format!("m{i}"))).await.unwrap();
        }
        e.push(new("b2", "c3", "other")).await.unwrap();
        let first = e.pull("b2").await.unwrap().unwrap();
        e.pull("b2").await.unwrap().unwrap();
        e.ack("b2", first.message.id).await.unwrap().unwrap();
        let want = vec![
            (
                "b2".to_string(),
                Counts {
                    pending: 1,
                    processing: 1,
                    processed: 1,
                },
            ),
            (
                "c3".to_string(),
                Counts {
                    pending: 1,
                    processing: 0,
                    processed: 0,
                },
            ),
        ];
        assert_eq!(counts(&e), want);
        e.delete_all("c3", Access::Involved).await.unwrap();
        assert_eq!(
            counts(&e),
            want[..1].to_vec(),
            "an emptied destination is gone"
        );
        e.flush().await.unwrap();
    }
    let e = open(dir.path(), EngineConfig::default());
    assert_eq!(
        counts(&e),
        vec![(
            "b2".to_string(),
            Counts {
                pending: 1,
                processing: 1,
                processed: 1
            }
        )],
        "counts are rebuilt from the store"
    );
}
