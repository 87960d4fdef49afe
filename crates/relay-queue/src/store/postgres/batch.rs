//! A commit's changes folded into the final state of each touched message, so that the whole
//! batch becomes a handful of set-based statements (one `unnest` upsert instead of a round trip
//! per change) whatever its size. Folding keeps the redb store's meaning: later changes win, a
//! `Put` without payload keeps whatever payload is there (none, after a `Delete` in the same
//! batch), and `Clear` forgets everything before it.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::error::PostgresError;
use crate::message::Message;
use crate::store::Change;

/// One statement's worth of payload bytes at most: a bind parameter is capped at 1 GB by the
/// protocol, and a group commit of many large pushes could pass that in one array.
const MAX_PAYLOAD_BYTES_PER_STATEMENT: usize = 64 << 20;

enum PayloadState {
    Kept,
    Set(Bytes),
    Removed,
}

struct Entry {
    message: Option<Message>,
    payload: PayloadState,
}

#[derive(Default)]
pub(super) struct Batch {
    /// Everything stored before this batch goes first.
    pub clear: bool,
    /// Messages whose row (and payload) are to be removed.
    pub delete: Vec<i64>,
    /// Final system data of every other touched message, in seq order.
    pub upsert: Vec<Message>,
    /// Payloads to remove while the message row stays (a `Delete` then a payload-less `Put`).
    pub delete_payloads: Vec<i64>,
    /// Payloads to write, split so that no statement carries too many bytes.
    pub payload_chunks: Vec<Vec<(i64, Bytes)>>,
}

impl Batch {
    pub(super) fn fold(changes: &[Change]) -> Result<Batch, PostgresError> {
        let mut clear = false;
        let mut entries: BTreeMap<u64, Entry> = BTreeMap::new();
        for change in changes {
            match change {
                Change::Put { message, payload } => {
                    let e = entries.entry(message.seq).or_insert(Entry {
                        message: None,
                        payload: PayloadState::Kept,
                    });
                    e.message = Some(message.clone());
                    if let Some(p) = payload {
                        e.payload = PayloadState::Set(p.clone());
                    }
                }
                Change::Delete { seq } => {
                    entries.insert(
                        *seq,
                        Entry {
                            message: None,
                            payload: PayloadState::Removed,
                        },
                    );
                }
                Change::Clear => {
                    clear = true;
                    entries.clear();
                }
            }
        }
        let mut batch = Batch {
            clear,
            ..Batch::default()
        };
        let mut chunk: Vec<(i64, Bytes)> = Vec::new();
        let mut chunk_bytes = 0;
        for (seq, entry) in entries {
            let seq = sql_seq(seq)?;
            let row_deleted = entry.message.is_none();
            match entry.message {
                Some(m) => batch.upsert.push(m),
                None => batch.delete.push(seq),
            }
            match entry.payload {
                PayloadState::Kept => {}
                // Deleting the row deletes its payload too.
                PayloadState::Removed if row_deleted => {}
                PayloadState::Removed => batch.delete_payloads.push(seq),
                PayloadState::Set(data) => {
                    if !chunk.is_empty()
                        && chunk_bytes + data.len() > MAX_PAYLOAD_BYTES_PER_STATEMENT
                    {
                        batch.payload_chunks.push(std::mem::take(&mut chunk));
                        chunk_bytes = 0;
                    }
                    chunk_bytes += data.len();
                    chunk.push((seq, data));
                }
            }
        }
        if !chunk.is_empty() {
            batch.payload_chunks.push(chunk);
        }
        Ok(batch)
    }
}

pub(super) fn sql_seq(seq: u64) -> Result<i64, PostgresError> {
    i64::try_from(seq).map_err(|_| PostgresError::SeqRange(seq))
}

#[cfg(test)]
mod tests {
    use relay_wire::queue::{ContentKind, MessageId, Status};

    use super::*;

    fn msg(seq: u64) -> Message {
        Message {
            id: MessageId([seq as u8; 12]),
            seq,
            source: "a".into(),
            destination: "b".into(),
            status: Status::Pending,
            tries: 0,
            topic: None,
            label: String::new(),
            kind: ContentKind::Text,
            created_time: 0,
            update_time: None,
            scheduled_time: None,
            processing_time: None,
            processed_time: None,
            error_time: None,
        }
    }

    fn put(seq: u64, payload: Option<&'static str>) -> Change {
        Change::Put {
            message: msg(seq),
            payload: payload.map(|s| Bytes::from_static(s.as_bytes())),
        }
    }

    #[test]
    fn later_changes_win_and_payloads_follow_the_redb_meaning() {
        let mut pulled = msg(1);
        pulled.status = Status::Processing;
        let changes = vec![
            put(1, Some("one")),
            Change::Put {
                message: pulled.clone(),
                payload: None,
            },
            put(2, Some("two")),
            Change::Delete { seq: 2 },
            Change::Delete { seq: 3 },
            put(3, None),
            Change::Delete { seq: 4 },
        ];
        let b = Batch::fold(&changes).unwrap();
        assert!(!b.clear);
        assert_eq!(b.upsert, vec![pulled, msg(3)]);
        assert_eq!(b.delete, vec![2, 4]);
        assert_eq!(
            b.delete_payloads,
            vec![3],
            "a payload-less put after a delete keeps no payload"
        );
        let written: Vec<(i64, Bytes)> = b.payload_chunks.concat();
        assert_eq!(written, vec![(1, Bytes::from_static(b"one"))]);
    }

    #[test]
    fn clear_forgets_what_came_before_it() {
        let b = Batch::fold(&[put(1, Some("x")), Change::Clear, put(2, Some("y"))]).unwrap();
        assert!(b.clear);
        assert_eq!(b.upsert, vec![msg(2)]);
        assert!(b.delete.is_empty());
        assert_eq!(b.payload_chunks, vec![vec![(2, Bytes::from_static(b"y"))]]);
    }

    #[test]
    fn large_payloads_are_split_across_statements() {
        let big = Bytes::from(vec![0u8; MAX_PAYLOAD_BYTES_PER_STATEMENT / 2 + 1]);
        let changes: Vec<Change> = (1..=3)
            .map(|s| Change::Put {
                message: msg(s),
                payload: Some(big.clone()),
            })
            .collect();
        let b = Batch::fold(&changes).unwrap();
        assert_eq!(
            b.payload_chunks.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
    }

    #[test]
    fn a_seq_beyond_bigint_is_refused() {
        assert!(matches!(
            Batch::fold(&[Change::Delete { seq: u64::MAX }]),
            Err(PostgresError::SeqRange(_))
        ));
    }
}
