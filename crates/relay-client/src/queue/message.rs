//! What the server answers: a message's system data (from the `Scirocco-*` headers, or from the
//! keys of a list element) and its message data (from the body), like the Python client's
//! response object.

use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use relay_wire::queue::{parse_scheduled_time, Dialect, Field, Status};
use reqwest::header::HeaderMap;
use serde_json::{Map, Value};

use super::error::QueueError;

/// This client speaks the v2 dialect (`Scirocco-Node-Source` and friends).
pub(crate) const DIALECT: Dialect = Dialect::V2;

/// A message's state as the server reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemData {
    /// 24 lowercase hex characters.
    pub id: String,
    /// The id of the node that pushed the message (`Scirocco-Node-Source`, list key `node_source`).
    pub source: String,
    /// The id of the node whose inbox holds the message (`Scirocco-Node-Destination`, list key
    /// `node_destination`).
    pub destination: String,
    /// Where the message is in its life: pending, scheduled, processing or processed
    /// (`Scirocco-Status`).
    pub status: Status,
    /// How many times the message was pulled.
    pub tries: u32,
    /// The type label: the one given on push, or else the push's content type.
    pub label: String,
    /// `Scirocco-Topic`: part of the model but never set over HTTP, so always `None` in practice.
    pub topic: Option<String>,
    /// When the message was pushed (`Scirocco-Created-Time`, list key `created_time`); `None` if
    /// the server left it out.
    pub created_time: Option<DateTime<Utc>>,
    /// When the message last changed by pull, ack or payload update (`Scirocco-Update-Time`);
    /// `None` until then.
    pub update_time: Option<DateTime<Utc>>,
    /// The earliest delivery time of a scheduled message (`Scirocco-Scheduled-Time`); `None` if it
    /// was not scheduled.
    pub scheduled_time: Option<DateTime<Utc>>,
    /// When the message was pulled (`Scirocco-Processing-Time`); `None` before its first pull.
    pub processing_time: Option<DateTime<Utc>>,
    /// When the message was acknowledged (`Scirocco-Processed-Time`); `None` before.
    pub processed_time: Option<DateTime<Utc>>,
    /// `Scirocco-Error-Time`: part of the model but never set, so always `None` in practice.
    pub error_time: Option<DateTime<Utc>>,
}

/// A message's payload as the server returned it.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageData {
    /// A JSON payload (always an object or an array).
    Json(Value),
    /// A text payload. In [`QueueClient::get_all`](super::QueueClient::get_all) results a binary
    /// payload also arrives as a string (its base64), and the list does not say which it was.
    Text(String),
    /// A binary payload read back from storage: the server sends standard base64 with padding,
    /// as the original does. [`MessageData::to_bytes`] decodes it.
    Base64(String),
    /// A binary payload in raw form: only the echo of a push of bytes.
    Bytes(Bytes),
}

impl MessageData {
    /// The payload as bytes: JSON as compact text, text as UTF-8, base64 decoded.
    pub fn to_bytes(&self) -> Result<Vec<u8>, QueueError> {
        match self {
            MessageData::Json(v) => Ok(v.to_string().into_bytes()),
            MessageData::Text(s) => Ok(s.clone().into_bytes()),
            MessageData::Base64(s) => base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| QueueError::InvalidResponse(format!("base64 payload: {e}"))),
            MessageData::Bytes(b) => Ok(b.to_vec()),
        }
    }
}

/// One message: the Python client's response object.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueMessage {
    /// The message's state, from the `Scirocco-*` headers or a list element's keys.
    pub system: SystemData,
    /// The payload, from the body or a list element's `payload` key.
    pub data: MessageData,
}

/// The answer to a delete: how many messages went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deleted {
    /// The `n` key of the server's delete answer: the number of messages deleted.
    pub n: u64,
}

impl SystemData {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<SystemData, QueueError> {
        let tries = headers
            .get(DIALECT.header(Field::Tries))
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let tries = tries.ok_or_else(|| {
            QueueError::InvalidResponse("missing or non-numeric header tries".into())
        })?;
        SystemData::from_fields(
            |field| {
                Ok(headers
                    .get(DIALECT.header(field))
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()))
            },
            |field| DIALECT.header(field),
            tries,
        )
    }

    /// Reads an element of the `GET /messages` array, where null fields are left out.
    fn from_list_element(obj: &Map<String, Value>) -> Result<SystemData, QueueError> {
        let key = |field: Field| DIALECT.json_key(field);
        let tries = match obj.get(key(Field::Tries)) {
            Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            _ => None,
        }
        .ok_or_else(|| QueueError::InvalidResponse("list element without numeric tries".into()))?;
        SystemData::from_fields(
            |field| match obj.get(key(field)) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(QueueError::InvalidResponse(format!(
                    "{}: {other}",
                    key(field)
                ))),
            },
            key,
            tries,
        )
    }

    /// Builds system data from its text fields, however the response carried them: `string`
    /// reads one field (`None` when absent), `name` says where it came from for errors.
    fn from_fields(
        string: impl Fn(Field) -> Result<Option<String>, QueueError>,
        name: impl Fn(Field) -> &'static str,
        tries: u32,
    ) -> Result<SystemData, QueueError> {
        let required = |field: Field| {
            string(field)?
                .ok_or_else(|| QueueError::InvalidResponse(format!("missing {}", name(field))))
        };
        let time = |field: Field| -> Result<Option<DateTime<Utc>>, QueueError> {
            string(field)?
                .map(|v| parse_time(name(field), &v))
                .transpose()
        };
        Ok(SystemData {
            id: required(Field::Id)?,
            source: required(Field::Source)?,
            destination: required(Field::Destination)?,
            status: parse_status(&required(Field::Status)?)?,
            tries,
            label: required(Field::Label)?,
            topic: string(Field::Topic)?,
            created_time: time(Field::CreatedTime)?,
            update_time: time(Field::UpdateTime)?,
            scheduled_time: time(Field::ScheduledTime)?,
            processing_time: time(Field::ProcessingTime)?,
            processed_time: time(Field::ProcessedTime)?,
            error_time: time(Field::ErrorTime)?,
        })
    }
}

fn parse_status(s: &str) -> Result<Status, QueueError> {
    Status::parse(s).ok_or_else(|| QueueError::InvalidResponse(format!("status {s:?}")))
}

/// Header times come in the JavaScript `toString()` form, list times in ISO-8601; the wire
/// crate's scheduled-time reader knows both.
fn parse_time(what: &str, value: &str) -> Result<DateTime<Utc>, QueueError> {
    parse_scheduled_time(value)
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .ok_or_else(|| QueueError::InvalidResponse(format!("{what}: not a time: {value:?}")))
}

/// Decodes a single-message body by its content type. A stored JSON payload is always an
/// object or an array, so a JSON *string* body can only be the base64 read-back of bytes.
pub(crate) fn decode_body(
    content_type: Option<&str>,
    body: Bytes,
) -> Result<MessageData, QueueError> {
    let media = content_type
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    match media.as_str() {
        "application/json" => match serde_json::from_slice(&body) {
            Ok(Value::String(s)) => Ok(MessageData::Base64(s)),
            Ok(v) => Ok(MessageData::Json(v)),
            Err(e) => Err(QueueError::InvalidResponse(format!("JSON body: {e}"))),
        },
        "application/octet-stream" => Ok(MessageData::Bytes(body)),
        m if m.starts_with("text/") => Ok(MessageData::Text(
            String::from_utf8_lossy(&body).into_owned(),
        )),
        // Without a known type, read the body as the Python client does: JSON, else text,
        // else bytes.
        _ => Ok(match serde_json::from_slice::<Value>(&body) {
            Ok(v) => MessageData::Json(v),
            Err(_) => match String::from_utf8(body.to_vec()) {
                Ok(s) => MessageData::Text(s),
                Err(_) => MessageData::Bytes(body),
            },
        }),
    }
}

/// Decodes the `GET /messages` array.
pub(crate) fn decode_list(body: &[u8]) -> Result<Vec<QueueMessage>, QueueError> {
    let items: Vec<Value> = serde_json::from_slice(body)
        .map_err(|e| QueueError::InvalidResponse(format!("message list: {e}")))?;
    items
        .into_iter()
        .map(|item| {
            let Value::Object(mut obj) = item else {
                return Err(QueueError::InvalidResponse(format!(
                    "list element is not an object: {item}"
                )));
            };
            let system = SystemData::from_list_element(&obj)?;
            let data = match obj.remove(DIALECT.payload_key()) {
                Some(Value::String(s)) => MessageData::Text(s),
                Some(v) => MessageData::Json(v),
                None => {
                    return Err(QueueError::InvalidResponse(format!(
                        "list element without {}",
                        DIALECT.payload_key()
                    )))
                }
            };
            Ok(QueueMessage { system, data })
        })
        .collect()
}

/// Decodes `{"n": <count>, "ok": 1}`.
pub(crate) fn decode_deleted(body: &[u8]) -> Result<Deleted, QueueError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| QueueError::InvalidResponse(format!("delete result: {e}")))?;
    let ok = matches!(v.get("ok"), Some(Value::Bool(true)))
        || v.get("ok").and_then(Value::as_i64) == Some(1);
    match v.get("n").and_then(Value::as_u64) {
        Some(n) if ok => Ok(Deleted { n }),
        _ => Err(QueueError::InvalidResponse(format!("delete result: {v}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn push_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("Scirocco-Id", "5823a70203c123003de4229b"),
            ("Scirocco-Node-Source", "af1"),
            ("Scirocco-Node-Destination", "af2"),
            ("Scirocco-Status", "processing"),
            ("Scirocco-Tries", "1"),
            ("Scirocco-Payload-Type", ".bin"),
            (
                "Scirocco-Created-Time",
                "Tue Nov 15 2016 10:41:05 GMT+0000 (UTC)",
            ),
            (
                "Scirocco-Processing-Time",
                "Tue Nov 15 2016 10:41:06 GMT+0000 (UTC)",
            ),
        ] {
            h.insert(k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn system_data_comes_from_v2_headers() {
        let s = SystemData::from_headers(&push_headers()).unwrap();
        assert_eq!(s.id, "5823a70203c123003de4229b");
        assert_eq!((s.source.as_str(), s.destination.as_str()), ("af1", "af2"));
        assert_eq!(
            (s.status, s.tries, s.label.as_str()),
            (Status::Processing, 1, ".bin")
        );
        assert_eq!(
            s.created_time.unwrap().to_rfc3339(),
            "2016-11-15T10:41:05+00:00"
        );
        assert_eq!(s.processing_time.unwrap().timestamp(), 1_479_206_466);
        assert_eq!(
            (s.update_time, s.scheduled_time, s.topic),
            (None, None, None)
        );
    }

    #[test]
    fn missing_or_bad_headers_are_malformed_responses() {
        let mut h = push_headers();
        h.remove("Scirocco-Id");
        assert!(matches!(
            SystemData::from_headers(&h),
            Err(QueueError::InvalidResponse(_))
        ));
        let mut h = push_headers();
        h.insert("Scirocco-Status", HeaderValue::from_static("done"));
        assert!(matches!(
            SystemData::from_headers(&h),
            Err(QueueError::InvalidResponse(_))
        ));
        let mut h = push_headers();
        h.insert(
            "Scirocco-Update-Time",
            HeaderValue::from_static("yesterday"),
        );
        assert!(matches!(
            SystemData::from_headers(&h),
            Err(QueueError::InvalidResponse(_))
        ));
    }

    #[test]
    fn bodies_decode_by_content_type() {
        let json = decode_body(
            Some("application/json; charset=utf-8"),
            Bytes::from_static(br#"{"a":1}"#),
        );
        assert_eq!(
            json.unwrap(),
            MessageData::Json(serde_json::json!({"a": 1}))
        );
        let b64 = decode_body(
            Some("application/json; charset=utf-8"),
            Bytes::from_static(br#""AAEC/w==""#),
        )
        .unwrap();
        assert_eq!(b64, MessageData::Base64("AAEC/w==".into()));
        assert_eq!(b64.to_bytes().unwrap(), vec![0, 1, 2, 255]);
        // Text is served as text/html, and a JSON-looking text stays text.
        let text =
            decode_body(Some("text/html; charset=utf-8"), Bytes::from_static(b"42")).unwrap();
        assert_eq!(text, MessageData::Text("42".into()));
        let raw = decode_body(
            Some("application/octet-stream"),
            Bytes::from_static(b"\xff\x00"),
        )
        .unwrap();
        assert_eq!(raw.to_bytes().unwrap(), vec![255, 0]);
        assert!(matches!(
            decode_body(Some("application/json"), Bytes::from_static(b"{no")),
            Err(QueueError::InvalidResponse(_))
        ));
    }

    #[test]
    fn untyped_bodies_fall_back_like_the_python_client() {
        assert_eq!(
            decode_body(None, Bytes::from_static(b"[1]")).unwrap(),
            MessageData::Json(serde_json::json!([1]))
        );
        assert_eq!(
            decode_body(None, Bytes::from_static(b"hi")).unwrap(),
            MessageData::Text("hi".into())
        );
        assert_eq!(
            decode_body(None, Bytes::from_static(b"\xff")).unwrap(),
            MessageData::Bytes(Bytes::from_static(b"\xff"))
        );
    }

    #[test]
    fn list_elements_use_v2_keys() {
        let body = br#"[
            {"_id":"5823a70203c123003de4229b","node_destination":"af2","node_source":"af1",
             "status":"processed","tries":1,"payload_type":"application/json",
             "created_time":"2016-11-15T10:41:05.123Z","processed_time":"2016-11-15T10:41:07.000Z",
             "payload":{"n":1}},
            {"_id":"5823a70203c123003de4229c","node_destination":"af2","node_source":"af1",
             "status":"pending","tries":0,"payload_type":".bin","payload":"AAEC"}
        ]"#;
        let list = decode_list(body).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].system.status, Status::Processed);
        assert_eq!(
            list[0].system.created_time.unwrap().timestamp_millis(),
            1_479_206_465_123
        );
        assert_eq!(list[0].data, MessageData::Json(serde_json::json!({"n": 1})));
        assert_eq!(list[1].data, MessageData::Text("AAEC".into()));
        assert_eq!(list[1].system.update_time, None);
    }

    #[test]
    fn list_elements_without_payload_or_tries_are_refused() {
        assert!(decode_list(br#"[{"_id":"a","node_destination":"b","node_source":"c","status":"pending","tries":0,"payload_type":"x"}]"#).is_err());
        assert!(decode_list(br#"[{"_id":"a","node_destination":"b","node_source":"c","status":"pending","tries":"0","payload_type":"x","payload":{}}]"#).is_err());
        assert!(decode_list(br#"{"not":"a list"}"#).is_err());
    }

    #[test]
    fn delete_results() {
        assert_eq!(
            decode_deleted(br#"{"n":3,"ok":1}"#).unwrap(),
            Deleted { n: 3 }
        );
        assert_eq!(
            decode_deleted(br#"{"n":0,"ok":true}"#).unwrap(),
            Deleted { n: 0 }
        );
        assert!(decode_deleted(br#"{"n":1,"ok":0}"#).is_err());
        assert!(decode_deleted(br#"{"ok":1}"#).is_err());
    }
}
