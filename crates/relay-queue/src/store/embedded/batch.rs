//! A commit's changes as one journal record body:
//! `Put = 1 | meta length u32 | meta | 0 or 1 | [payload length u32 | payload]`,
//! `Delete = 2 | seq u64`, `Clear = 3`; integers little-endian, meta is the message's system
//! data in postcard, the same bytes the redb table keeps.

use bytes::Bytes;

use crate::message::Message;
use crate::store::{Change, StoreError};

const PUT: u8 = 1;
const DELETE: u8 = 2;
const CLEAR: u8 = 3;

/// A change with its system data already encoded, so that the journal and the redb table share
/// one encoding of each message.
pub(super) enum Encoded<'a> {
    Put {
        seq: u64,
        meta: Vec<u8>,
        payload: Option<&'a [u8]>,
    },
    Delete {
        seq: u64,
    },
    Clear,
}

pub(super) fn encode_changes(changes: &[Change]) -> Result<Vec<Encoded<'_>>, StoreError> {
    changes
        .iter()
        .map(|c| {
            Ok(match c {
                Change::Put { message, payload } => Encoded::Put {
                    seq: message.seq,
                    meta: postcard::to_allocvec(message)?,
                    payload: payload.as_deref(),
                },
                Change::Delete { seq } => Encoded::Delete { seq: *seq },
                Change::Clear => Encoded::Clear,
            })
        })
        .collect()
}

pub(super) fn to_body(changes: &[Encoded<'_>]) -> Vec<u8> {
    let len = changes
        .iter()
        .map(|c| match c {
            Encoded::Put { meta, payload, .. } => 10 + meta.len() + payload.map_or(0, |p| p.len()),
            Encoded::Delete { .. } => 9,
            Encoded::Clear => 1,
        })
        .sum();
    let mut out = Vec::with_capacity(len);
    for c in changes {
        match c {
            Encoded::Put { meta, payload, .. } => {
                out.push(PUT);
                out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
                out.extend_from_slice(meta);
                match payload {
                    Some(p) => {
                        out.push(1);
                        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
                        out.extend_from_slice(p);
                    }
                    None => out.push(0),
                }
            }
            Encoded::Delete { seq } => {
                out.push(DELETE);
                out.extend_from_slice(&seq.to_le_bytes());
            }
            Encoded::Clear => out.push(CLEAR),
        }
    }
    out
}

pub(super) fn from_body(body: &[u8]) -> Result<Vec<Change>, StoreError> {
    let mut r = Reader { rest: body };
    let mut changes = Vec::new();
    while !r.rest.is_empty() {
        changes.push(match r.u8()? {
            PUT => {
                let meta_len = r.u32()? as usize;
                let message: Message = postcard::from_bytes(r.take(meta_len)?)?;
                let payload = match r.u8()? {
                    0 => None,
                    _ => {
                        let len = r.u32()? as usize;
                        Some(Bytes::copy_from_slice(r.take(len)?))
                    }
                };
                Change::Put { message, payload }
            }
            DELETE => Change::Delete {
                seq: u64::from_le_bytes(r.take(8)?.try_into().unwrap()),
            },
            CLEAR => Change::Clear,
            other => return Err(corrupt(&format!("unknown change tag {other}"))),
        });
    }
    Ok(changes)
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.rest.len() < n {
            return Err(corrupt("a change is cut short"));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, StoreError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
}

/// A record passed its checksum yet does not decode: only a bug writes such a thing.
fn corrupt(what: &str) -> StoreError {
    StoreError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("queue journal record: {what}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use relay_wire::queue::{ContentKind, MessageId, Status};

    fn message(seq: u64) -> Message {
        Message {
            id: MessageId::parse("0123456789abcdef01234567").unwrap(),
            seq,
            source: "a1".into(),
            destination: "b2".into(),
            status: Status::Pending,
            tries: 2,
            topic: None,
            label: "label".into(),
            kind: ContentKind::Text,
            created_time: 1,
            update_time: Some(2),
            scheduled_time: None,
            processing_time: None,
            processed_time: None,
            error_time: None,
        }
    }

    #[test]
    fn every_kind_of_change_round_trips() {
        let changes = vec![
            Change::Put {
                message: message(1),
                payload: Some(Bytes::from_static(b"hello")),
            },
            Change::Put {
                message: message(2),
                payload: None,
            },
            Change::Put {
                message: message(3),
                payload: Some(Bytes::new()),
            },
            Change::Delete { seq: 9 },
            Change::Clear,
        ];
        let body = to_body(&encode_changes(&changes).unwrap());
        let back = from_body(&body).unwrap();
        assert_eq!(back.len(), changes.len());
        for (a, b) in changes.iter().zip(&back) {
            match (a, b) {
                (
                    Change::Put {
                        message: m1,
                        payload: p1,
                    },
                    Change::Put {
                        message: m2,
                        payload: p2,
                    },
                ) => {
                    assert_eq!(m1, m2);
                    assert_eq!(p1, p2);
                }
                (Change::Delete { seq: s1 }, Change::Delete { seq: s2 }) => assert_eq!(s1, s2),
                (Change::Clear, Change::Clear) => {}
                _ => panic!("changed kind: {a:?} -> {b:?}"),
            }
        }
    }

    #[test]
    fn a_cut_body_is_an_error_not_a_panic() {
        let body = to_body(
            &encode_changes(&[Change::Put {
                message: message(1),
                payload: None,
            }])
            .unwrap(),
        );
        for n in 1..body.len() {
            assert!(from_body(&body[..n]).is_err(), "cut at {n}");
        }
    }
}
