//! The embedded store as a crash leaves it: its files are copied while the store is still open,
//! which is exactly what a `kill -9` leaves on disk (every write is in the page cache, only what
//! was never written is missing), and the copy must hold every commit that returned.

use std::path::Path;

use bytes::Bytes;
use relay_queue::{Change, Message, RedbStore, Store};
use relay_wire::queue::{ContentKind, MessageId, Status};

fn message(seq: u64, status: Status) -> Message {
    Message {
        id: MessageId::parse(&format!("{seq:024x}")).unwrap(),
        seq,
        source: "a1".into(),
        destination: "b2".into(),
        status,
        tries: 0,
        topic: None,
        label: "text/plain".into(),
        kind: ContentKind::Text,
        created_time: seq as i64,
        update_time: None,
        scheduled_time: None,
        processing_time: None,
        processed_time: None,
        error_time: None,
    }
}

fn put(seq: u64, payload: &[u8]) -> Change {
    Change::Put {
        message: message(seq, Status::Pending),
        payload: Some(Bytes::copy_from_slice(payload)),
    }
}

/// Copies the store's files while it is open, then opens the copy.
fn crash_copy(from: &Path, to: &Path) -> RedbStore {
    for name in ["queue.redb", "queue.redb.journal"] {
        std::fs::copy(from.join(name), to.join(name)).unwrap();
    }
    RedbStore::open(&to.join("queue.redb")).unwrap()
}

fn states(store: &RedbStore) -> Vec<(u64, Status)> {
    store
        .load()
        .unwrap()
        .into_iter()
        .map(|m| (m.seq, m.status))
        .collect()
}

#[test]
fn durable_commits_survive_a_crash() {
    let (live, copy) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = RedbStore::open(&live.path().join("queue.redb")).unwrap();
    store
        .commit(&[put(1, b"one"), put(2, b"two")], true)
        .unwrap();
    store
        .commit(
            &[Change::Put {
                message: message(1, Status::Processing),
                payload: None,
            }],
            true,
        )
        .unwrap();
    store
        .commit(&[Change::Delete { seq: 2 }, put(3, b"three")], true)
        .unwrap();

    let after = crash_copy(live.path(), copy.path());
    assert_eq!(
        states(&after),
        vec![(1, Status::Processing), (3, Status::Pending)]
    );
    assert_eq!(
        after.read_payload(1).unwrap().unwrap(),
        "one",
        "a state change keeps the payload"
    );
    assert_eq!(after.read_payload(3).unwrap().unwrap(), "three");
    assert!(after.read_payload(2).unwrap().is_none());
}

#[test]
fn commits_that_outgrow_the_journal_survive_a_crash() {
    let (live, copy) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = RedbStore::open(&live.path().join("queue.redb")).unwrap();
    let mib = vec![b'x'; 1 << 20];
    // 40 MiB of puts wrap the 16 MiB journal twice; every other message is deleted again.
    for seq in 1..=40u64 {
        store.commit(&[put(seq, &mib)], true).unwrap();
        if seq % 2 == 0 {
            store
                .commit(&[Change::Delete { seq: seq - 1 }], true)
                .unwrap();
        }
    }
    // One commit larger than the whole journal goes to redb directly.
    let big = vec![b'y'; 17 << 20];
    store.commit(&[put(41, &big)], true).unwrap();
    store.commit(&[put(42, b"last")], true).unwrap();

    let after = crash_copy(live.path(), copy.path());
    let expected: Vec<(u64, Status)> = (1..=42)
        .filter(|s| s % 2 == 0 || *s > 40)
        .map(|s| (s, Status::Pending))
        .collect();
    assert_eq!(states(&after), expected);
    assert_eq!(after.read_payload(40).unwrap().unwrap().len(), 1 << 20);
    assert_eq!(after.read_payload(41).unwrap().unwrap().len(), 17 << 20);
    assert_eq!(after.read_payload(42).unwrap().unwrap(), "last");
}

#[test]
fn a_clear_in_the_journal_is_replayed_in_order() {
    let (live, copy) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = RedbStore::open(&live.path().join("queue.redb")).unwrap();
    store.commit(&[put(1, b"a"), put(2, b"b")], true).unwrap();
    store.commit(&[Change::Clear], true).unwrap();
    store.commit(&[put(3, b"c")], true).unwrap();
    let after = crash_copy(live.path(), copy.path());
    assert_eq!(states(&after), vec![(3, Status::Pending)]);
}

#[test]
fn a_store_reopened_after_a_crash_keeps_working() {
    let (live, copy) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = RedbStore::open(&live.path().join("queue.redb")).unwrap();
    store.commit(&[put(1, b"a")], true).unwrap();
    let after = crash_copy(live.path(), copy.path());
    after.commit(&[put(2, b"b")], true).unwrap();
    drop(after);
    let again = RedbStore::open(&copy.path().join("queue.redb")).unwrap();
    assert_eq!(
        states(&again),
        vec![(1, Status::Pending), (2, Status::Pending)]
    );
}
