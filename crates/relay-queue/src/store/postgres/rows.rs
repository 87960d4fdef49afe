//! Messages to and from the columns of `relay_queue_messages`. Times stay integer milliseconds,
//! the engine's unit, so nothing is rounded on the way through.

use relay_wire::queue::{ContentKind, MessageId, Status};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::batch::sql_seq;
use super::error::PostgresError;
use super::schema::MESSAGES;
use crate::message::Message;

pub(super) fn kind_str(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Json => "json",
        ContentKind::Text => "text",
        ContentKind::Bytes => "bytes",
    }
}

fn parse_kind(s: &str) -> Option<ContentKind> {
    match s {
        "json" => Some(ContentKind::Json),
        "text" => Some(ContentKind::Text),
        "bytes" => Some(ContentKind::Bytes),
        _ => None,
    }
}

/// One array per column, for an `unnest` upsert of many messages in one statement.
pub(super) struct Columns<'a> {
    seq: Vec<i64>,
    id: Vec<String>,
    source: Vec<&'a str>,
    destination: Vec<&'a str>,
    status: Vec<&'static str>,
    tries: Vec<i64>,
    topic: Vec<Option<&'a str>>,
    label: Vec<&'a str>,
    kind: Vec<&'static str>,
    created: Vec<i64>,
    update: Vec<Option<i64>>,
    scheduled: Vec<Option<i64>>,
    processing: Vec<Option<i64>>,
    processed: Vec<Option<i64>>,
    error: Vec<Option<i64>>,
}

impl<'a> Columns<'a> {
    pub(super) fn new(messages: &'a [Message]) -> Result<Columns<'a>, PostgresError> {
        let mut c = Columns {
            seq: Vec::with_capacity(messages.len()),
            id: Vec::with_capacity(messages.len()),
            source: Vec::with_capacity(messages.len()),
            destination: Vec::with_capacity(messages.len()),
            status: Vec::with_capacity(messages.len()),
            tries: Vec::with_capacity(messages.len()),
            topic: Vec::with_capacity(messages.len()),
            label: Vec::with_capacity(messages.len()),
            kind: Vec::with_capacity(messages.len()),
            created: Vec::with_capacity(messages.len()),
            update: Vec::with_capacity(messages.len()),
            scheduled: Vec::with_capacity(messages.len()),
            processing: Vec::with_capacity(messages.len()),
            processed: Vec::with_capacity(messages.len()),
            error: Vec::with_capacity(messages.len()),
        };
        for m in messages {
            c.seq.push(sql_seq(m.seq)?);
            c.id.push(m.id.to_string());
            c.source.push(&m.source);
            c.destination.push(&m.destination);
            c.status.push(m.status.as_str());
            c.tries.push(i64::from(m.tries));
            c.topic.push(m.topic.as_deref());
            c.label.push(&m.label);
            c.kind.push(kind_str(m.kind));
            c.created.push(m.created_time);
            c.update.push(m.update_time);
            c.scheduled.push(m.scheduled_time);
            c.processing.push(m.processing_time);
            c.processed.push(m.processed_time);
            c.error.push(m.error_time);
        }
        Ok(c)
    }

    /// The parameters in the order of `schema::COLUMNS`.
    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); 15] {
        [
            &self.seq,
            &self.id,
            &self.source,
            &self.destination,
            &self.status,
            &self.tries,
            &self.topic,
            &self.label,
            &self.kind,
            &self.created,
            &self.update,
            &self.scheduled,
            &self.processing,
            &self.processed,
            &self.error,
        ]
    }
}

/// A row of the load query (columns in `schema::COLUMNS` order) back into a message.
pub(super) fn message_from_row(row: &Row) -> Result<Message, PostgresError> {
    let seq: i64 = row.try_get(0)?;
    let corrupt = |what: String| PostgresError::Corrupt {
        table: MESSAGES,
        seq,
        what,
    };
    let id: &str = row.try_get(1)?;
    let status: &str = row.try_get(4)?;
    let tries: i64 = row.try_get(5)?;
    let kind: &str = row.try_get(8)?;
    Ok(Message {
        id: MessageId::parse(id).map_err(|e| corrupt(format!("id `{id}`: {e}")))?,
        seq: u64::try_from(seq).map_err(|_| corrupt("negative seq".into()))?,
        source: row.try_get(2)?,
        destination: row.try_get(3)?,
        status: Status::parse(status)
            .ok_or_else(|| corrupt(format!("unknown status `{status}`")))?,
        tries: u32::try_from(tries).map_err(|_| corrupt(format!("tries {tries} out of range")))?,
        topic: row.try_get(6)?,
        label: row.try_get(7)?,
        kind: parse_kind(kind).ok_or_else(|| corrupt(format!("unknown kind `{kind}`")))?,
        created_time: row.try_get(9)?,
        update_time: row.try_get(10)?,
        scheduled_time: row.try_get(11)?,
        processing_time: row.try_get(12)?,
        processed_time: row.try_get(13)?,
        error_time: row.try_get(14)?,
    })
}
