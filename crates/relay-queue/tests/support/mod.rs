//! Messages the engine tests push, shared by the embedded and PostgreSQL suites.

use bytes::Bytes;
use relay_queue::NewMessage;
use relay_wire::queue::{ContentKind, Payload, Status};

pub fn text(s: &str) -> Payload {
    Payload { kind: ContentKind::Text, data: Bytes::from(s.to_string()) }
}

/// A pending text message.
pub fn new(from: &str, to: &str, body: &str) -> NewMessage {
    NewMessage {
        source: from.into(),
        destination: to.into(),
        status: Status::Pending,
        scheduled_time: None,
        label: "text/plain".into(),
        payload: text(body),
    }
}
