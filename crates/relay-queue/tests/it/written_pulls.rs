//! A pull is answered once its change is written to the store, before the sync that a push or
//! an ack waits for (docs/queue.md, "What a reply waits for"). Copying the files of the open
//! store, as a `kill -9` leaves them, shows every answered pull is there all the same, and the
//! next synced commit or a clean close keeps it.

use std::path::Path;
use std::sync::Arc;

use relay_queue::{Engine, EngineConfig, RedbStore};
use relay_wire::queue::Status;

use crate::support::new;

fn open(dir: &Path) -> Arc<Engine> {
    let store = RedbStore::open(&dir.join("queue.redb")).unwrap();
    Engine::open(Arc::new(store), EngineConfig::default()).unwrap()
}

/// The files of an open store, copied as a crash of the process leaves them.
fn crash_copy(from: &Path, to: &Path) {
    for name in ["queue.redb", "queue.redb.journal"] {
        std::fs::copy(from.join(name), to.join(name)).unwrap();
    }
}

#[tokio::test]
async fn answered_pulls_are_in_the_files_of_the_open_store() {
    let (live, copy) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let e = open(live.path());
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(e.push(new("a1", "b2", &format!("m{i}"))).await.unwrap().id);
    }
    for id in &ids[..10] {
        let got = e.pull("b2").await.unwrap().unwrap();
        assert_eq!((&got.message.id, got.message.tries), (id, 1));
    }
    crash_copy(live.path(), copy.path());
    let after = open(copy.path());
    for (i, id) in ids.iter().enumerate() {
        let m = after.get("a1", *id).await.unwrap().unwrap().message;
        let expected = if i < 10 {
            (Status::Processing, 1)
        } else {
            (Status::Pending, 0)
        };
        assert_eq!((m.status, m.tries), expected, "message {i} after the crash");
    }
    let next = after.pull("b2").await.unwrap().unwrap();
    assert_eq!(
        next.message.id, ids[10],
        "a held message was delivered again"
    );
}

#[tokio::test]
async fn a_pull_then_an_ack_survive_together_and_a_clean_close_keeps_a_lone_pull() {
    let (live, copy) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let e = open(live.path());
    let acked = e.push(new("a1", "b2", "acked")).await.unwrap().id;
    let held = e.push(new("a1", "b2", "held")).await.unwrap().id;
    e.pull("b2").await.unwrap().unwrap();
    e.ack("b2", acked).await.unwrap().unwrap();
    e.pull("b2").await.unwrap().unwrap();
    crash_copy(live.path(), copy.path());
    let after = open(copy.path());
    let status = |m: relay_queue::Stored| (m.message.status, m.message.tries);
    assert_eq!(
        status(after.get("a1", acked).await.unwrap().unwrap()),
        (Status::Processed, 1)
    );
    assert_eq!(
        status(after.get("a1", held).await.unwrap().unwrap()),
        (Status::Processing, 1)
    );
    drop(after);
    drop(e);
    let reopened = open(live.path());
    assert_eq!(
        status(reopened.get("a1", held).await.unwrap().unwrap()),
        (Status::Processing, 1),
        "a clean close lost a pull"
    );
}
