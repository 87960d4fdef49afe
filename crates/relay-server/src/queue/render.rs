//! Turning messages and errors into responses: system headers in the caller's dialect, bodies
//! as the original wrote them (text as `text/html`, bytes as base64 JSON on read-back).

use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use relay_queue::{Message, Stored};
use relay_wire::queue::{
    format_header_time, format_json_time, ContentKind, Dialect, Field, Payload,
};
use serde::ser::{SerializeMap, Serializer};

pub(super) const JSON: &str = "application/json; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
const OCTETS: &str = "application/octet-stream";

fn base(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut res = Response::new(body.into());
    *res.status_mut() = status;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    res
}

/// `{"message": text}` with a JSON content type.
pub(super) fn message(status: StatusCode, text: &str) -> Response {
    json(status, &serde_json::json!({ "message": text }))
}

pub(super) fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    base(status, JSON, serde_json::to_vec(value).unwrap_or_default())
}

pub(super) fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "Not Found")
}

pub(super) fn resource_not_found() -> Response {
    message(StatusCode::NOT_FOUND, "Resource not found.")
}

/// A 500 whose body is the error with each of its causes (`: `-separated), logged with its chain.
pub(super) fn internal(err: &(dyn std::error::Error + 'static)) -> Response {
    tracing::error!(error = err, "queue request failed");
    let text = relay_wire::error_chain::ErrorChain(err).to_string();
    message(StatusCode::INTERNAL_SERVER_ERROR, &text)
}

pub(super) fn no_content() -> Response {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    res
}

/// The MongoDB-style write result the clients expect from deletes.
pub(super) fn write_result(n: u64) -> Response {
    json(StatusCode::OK, &serde_json::json!({ "n": n, "ok": 1 }))
}

const FIELDS: [Field; 13] = [
    Field::Id,
    Field::Source,
    Field::Destination,
    Field::Label,
    Field::Status,
    Field::Tries,
    Field::Topic,
    Field::CreatedTime,
    Field::UpdateTime,
    Field::ScheduledTime,
    Field::ProcessingTime,
    Field::ProcessedTime,
    Field::ErrorTime,
];

/// Header names are built once: every response carries up to a dozen of them.
fn header_name(dialect: Dialect, field: Field) -> HeaderName {
    static NAMES: std::sync::LazyLock<Vec<(Dialect, Field, HeaderName)>> =
        std::sync::LazyLock::new(|| {
            [Dialect::V1, Dialect::V2]
                .into_iter()
                .flat_map(|d| FIELDS.into_iter().map(move |f| (d, f)))
                .map(|(d, f)| {
                    (
                        d,
                        f,
                        HeaderName::from_bytes(d.header(f).as_bytes()).expect("valid header name"),
                    )
                })
                .collect()
        });
    NAMES
        .iter()
        .find(|(d, f, _)| *d == dialect && *f == field)
        .map(|(_, _, n)| n.clone())
        .expect("every field is named")
}

/// The bytes a label was read from (Latin-1); a label with wider characters (inserted through
/// the test hooks) is written as UTF-8.
fn latin1_or_utf8(label: &str) -> Vec<u8> {
    if label.chars().all(|c| (c as u32) <= 0xff) {
        label.chars().map(|c| c as u8).collect()
    } else {
        label.as_bytes().to_vec()
    }
}

/// The optional times a message has, in the order they are written; unset ones are left out.
fn set_times(m: &Message) -> impl Iterator<Item = (Field, i64)> {
    [
        (Field::UpdateTime, m.update_time),
        (Field::ScheduledTime, m.scheduled_time),
        (Field::ProcessingTime, m.processing_time),
        (Field::ProcessedTime, m.processed_time),
        (Field::ErrorTime, m.error_time),
    ]
    .into_iter()
    .filter_map(|(field, t)| Some((field, t?)))
}

/// The system headers of a message, one per non-null field. Header names are lower case here;
/// the listener writes them in Title-Case.
pub(super) fn system_headers(res: &mut Response, dialect: Dialect, msg: &Message) {
    let h = res.headers_mut();
    let mut put = |field: Field, value: &[u8]| {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            h.insert(header_name(dialect, field), value);
        }
    };
    put(Field::Id, msg.id.to_string().as_bytes());
    put(Field::Source, msg.source.as_bytes());
    put(Field::Destination, msg.destination.as_bytes());
    put(Field::Label, &latin1_or_utf8(&msg.label));
    put(Field::Status, msg.status.as_str().as_bytes());
    put(Field::Tries, msg.tries.to_string().as_bytes());
    if let Some(topic) = &msg.topic {
        put(Field::Topic, topic.as_bytes());
    }
    put(
        Field::CreatedTime,
        format_header_time(msg.created_time).as_bytes(),
    );
    for (field, t) in set_times(msg) {
        put(field, format_header_time(t).as_bytes());
    }
}

fn payload_body(payload: &Payload, read_back: bool) -> Response {
    let mut res = match payload.kind {
        ContentKind::Json => base(StatusCode::OK, JSON, payload.data.clone()),
        ContentKind::Text => {
            // Kept as text/html because clients and suites expect it; these two headers stop a
            // browser from running a pushed text as a page.
            let mut r = base(StatusCode::OK, HTML, payload.data.clone());
            r.headers_mut().insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            r.headers_mut().insert(
                "content-security-policy",
                HeaderValue::from_static("sandbox"),
            );
            r
        }
        ContentKind::Bytes if read_back => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(&payload.data);
            base(
                StatusCode::OK,
                JSON,
                serde_json::to_vec(&b64).unwrap_or_default(),
            )
        }
        ContentKind::Bytes => base(StatusCode::OK, OCTETS, payload.data.clone()),
    };
    res.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    res
}

/// The 201 of a push: the payload echoed as it came in.
pub(super) fn pushed(dialect: Dialect, msg: &Message, payload: &Payload) -> Response {
    let mut res = payload_body(payload, false);
    *res.status_mut() = StatusCode::CREATED;
    if let Ok(loc) = HeaderValue::from_str(&format!("/messages/{}", msg.id)) {
        res.headers_mut().insert(http::header::LOCATION, loc);
    }
    system_headers(&mut res, dialect, msg);
    res
}

/// A 200 with a message read back from storage (pull, ack, get, update).
pub(super) fn read_back(dialect: Dialect, stored: &Stored) -> Response {
    let mut res = payload_body(&stored.payload, true);
    system_headers(&mut res, dialect, &stored.message);
    res
}

/// How much of a payload one piece of a list answer carries: a multiple of 3, so that every
/// piece but the last is base64 without padding.
const LIST_PIECE: usize = 48 * 1024;

/// One element of the `GET /messages` array, in pieces of at most about `LIST_PIECE` bytes of
/// payload each (a `[` before the first, a `,` before the others): the list answer is streamed,
/// so a list of large messages never sits whole in memory.
pub(super) fn list_element(
    dialect: Dialect,
    stored: &Stored,
    first: bool,
) -> impl Iterator<Item = Bytes> + Send + '_ {
    let p = &stored.payload;
    let quoted = p.kind != ContentKind::Json;
    let mut head = Vec::with_capacity(320);
    head.push(if first { b'[' } else { b',' });
    serde_json::to_writer(
        &mut head,
        &ListHead {
            dialect,
            message: &stored.message,
        },
    )
    .expect("strings and numbers serialise into memory");
    // The system fields make a whole JSON object; its closing brace makes way for the payload.
    head.pop();
    head.extend_from_slice(format!(",\"{}\":", dialect.payload_key()).as_bytes());
    if quoted {
        head.push(b'"');
    }
    let body: Box<dyn Iterator<Item = Bytes> + Send> = match p.kind {
        ContentKind::Json => {
            let data = p.data.clone();
            Box::new(
                (0..data.len())
                    .step_by(LIST_PIECE)
                    .map(move |at| data.slice(at..data.len().min(at + LIST_PIECE))),
            )
        }
        ContentKind::Bytes => Box::new(
            p.data
                .chunks(LIST_PIECE)
                .map(|piece| Bytes::from(base64::engine::general_purpose::STANDARD.encode(piece))),
        ),
        ContentKind::Text => Box::new(TextPieces {
            text: p.as_text(),
            at: 0,
        }),
    };
    let tail: &'static [u8] = if quoted { b"\"}" } else { b"}" };
    std::iter::once(Bytes::from(head))
        .chain(body)
        .chain(std::iter::once(Bytes::from_static(tail)))
}

/// The end of a list answer whose first element has been written.
pub(super) const LIST_END: &[u8] = b"]";

/// A `GET /messages` answer whose body comes from `pieces`; an error there cuts the answer
/// off, which the client sees as a broken response rather than a short list.
pub(super) fn list<S>(pieces: S) -> Response
where
    S: futures_util::Stream<Item = Result<Bytes, relay_queue::EngineError>> + Send + 'static,
{
    base(StatusCode::OK, JSON, Body::from_stream(pieces))
}

/// A text payload as JSON string content, escaped piece by piece (escapes never span
/// characters, so cutting between characters is safe).
struct TextPieces<'a> {
    text: std::borrow::Cow<'a, str>,
    at: usize,
}

impl Iterator for TextPieces<'_> {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        let rest = &self.text[self.at..];
        if rest.is_empty() {
            return None;
        }
        let mut end = rest.len().min(LIST_PIECE);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        self.at += end;
        let quoted =
            Bytes::from(serde_json::to_vec(&rest[..end]).expect("a string serialises into memory"));
        Some(quoted.slice(1..quoted.len() - 1))
    }
}

/// The system fields of a list element.
struct ListHead<'a> {
    dialect: Dialect,
    message: &'a Message,
}

impl serde::Serialize for ListHead<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.dialect;
        let m = self.message;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry(d.json_key(Field::Id), &m.id.to_string())?;
        map.serialize_entry(d.json_key(Field::Destination), &m.destination)?;
        map.serialize_entry(d.json_key(Field::Source), &m.source)?;
        map.serialize_entry(d.json_key(Field::Status), m.status.as_str())?;
        map.serialize_entry(d.json_key(Field::Tries), &m.tries)?;
        if let Some(topic) = &m.topic {
            map.serialize_entry(d.json_key(Field::Topic), topic)?;
        }
        map.serialize_entry(d.json_key(Field::Label), &m.label)?;
        map.serialize_entry(
            d.json_key(Field::CreatedTime),
            &format_json_time(m.created_time),
        )?;
        for (field, t) in set_times(m) {
            map.serialize_entry(d.json_key(field), &format_json_time(t))?;
        }
        map.end()
    }
}
