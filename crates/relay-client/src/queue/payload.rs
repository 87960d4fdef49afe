//! Outgoing payloads: what a push or an update sends, and the content-type detection the Python
//! client does on its values.

use bytes::Bytes;
use relay_wire::queue::ContentKind;
use serde::Serialize;

/// A payload to push or to put in place of a message's payload. The server remembers which of
/// the three kinds it was and answers each differently (binary comes back as base64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// JSON text. The server takes only objects and arrays; anything else gets a 400.
    Json(String),
    /// Plain text, sent as `text/plain`.
    Text(String),
    /// Binary data, sent as `application/octet-stream`; the server returns it as base64.
    Bytes(Bytes),
}

impl Payload {
    /// Serialises a value as a JSON payload.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Payload, serde_json::Error> {
        serde_json::to_string(value).map(Payload::Json)
    }

    /// The Python client sends a `str` that parses as JSON as `application/json` and any other
    /// `str` as `text/plain`. This does the same, except that only objects and arrays count as
    /// JSON: the server refuses JSON scalars, so `"123"` goes as text instead of failing.
    pub fn detect_text(text: impl Into<String>) -> Payload {
        let text = text.into();
        if is_json_container(&text) {
            Payload::Json(text)
        } else {
            Payload::Text(text)
        }
    }

    /// Detection for raw input such as a file or stdin: UTF-8 is read as by [`detect_text`],
    /// anything else is binary.
    ///
    /// [`detect_text`]: Payload::detect_text
    pub fn detect_bytes(data: impl Into<Vec<u8>>) -> Payload {
        match String::from_utf8(data.into()) {
            Ok(text) => Payload::detect_text(text),
            Err(e) => Payload::Bytes(Bytes::from(e.into_bytes())),
        }
    }

    /// Which of the three content kinds (JSON, text, binary) this payload is.
    pub fn kind(&self) -> ContentKind {
        match self {
            Payload::Json(_) => ContentKind::Json,
            Payload::Text(_) => ContentKind::Text,
            Payload::Bytes(_) => ContentKind::Bytes,
        }
    }

    /// The request `Content-Type`: exactly one of the three strings the server accepts.
    pub fn content_type(&self) -> &'static str {
        self.kind().content_type()
    }

    /// The request body: the JSON or text as UTF-8, or the bytes as they are.
    pub fn into_body(self) -> Bytes {
        match self {
            Payload::Json(s) | Payload::Text(s) => Bytes::from(s),
            Payload::Bytes(b) => b,
        }
    }
}

impl From<serde_json::Value> for Payload {
    fn from(v: serde_json::Value) -> Payload {
        Payload::Json(v.to_string())
    }
}

impl From<&str> for Payload {
    fn from(s: &str) -> Payload {
        Payload::Text(s.to_owned())
    }
}

impl From<String> for Payload {
    fn from(s: String) -> Payload {
        Payload::Text(s)
    }
}

impl From<Vec<u8>> for Payload {
    fn from(b: Vec<u8>) -> Payload {
        Payload::Bytes(Bytes::from(b))
    }
}

impl From<Bytes> for Payload {
    fn from(b: Bytes) -> Payload {
        Payload::Bytes(b)
    }
}

fn is_json_container(text: &str) -> bool {
    let trimmed = text.trim_start();
    (trimmed.starts_with('{') || trimmed.starts_with('['))
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_is_an_object_or_array_is_json() {
        assert_eq!(
            Payload::detect_text(r#"{"a": 1}"#),
            Payload::Json(r#"{"a": 1}"#.into())
        );
        assert_eq!(
            Payload::detect_text(" [1,2]"),
            Payload::Json(" [1,2]".into())
        );
        assert_eq!(Payload::detect_text("hello").kind(), ContentKind::Text);
        assert_eq!(Payload::detect_text("123").kind(), ContentKind::Text);
        assert_eq!(
            Payload::detect_text(r#""quoted""#).kind(),
            ContentKind::Text
        );
        assert_eq!(Payload::detect_text("{broken").kind(), ContentKind::Text);
        assert_eq!(Payload::detect_text("").kind(), ContentKind::Text);
    }

    #[test]
    fn raw_input_is_binary_only_when_not_utf8() {
        assert_eq!(
            Payload::detect_bytes(b"[1]".to_vec()).kind(),
            ContentKind::Json
        );
        assert_eq!(
            Payload::detect_bytes(b"plain".to_vec()).kind(),
            ContentKind::Text
        );
        let raw = vec![0u8, 1, 2, 0xfe, 0xff];
        assert_eq!(
            Payload::detect_bytes(raw.clone()),
            Payload::Bytes(Bytes::from(raw))
        );
    }

    #[test]
    fn content_types_are_the_three_the_server_accepts() {
        assert_eq!(
            Payload::json(&serde_json::json!({"a": 1}))
                .unwrap()
                .content_type(),
            "application/json"
        );
        assert_eq!(Payload::from("x").content_type(), "text/plain");
        assert_eq!(
            Payload::from(vec![1u8]).content_type(),
            "application/octet-stream"
        );
    }

    #[test]
    fn json_keeps_key_order() {
        let p = Payload::json(&serde_json::json!({"z": 1, "a": 2})).unwrap();
        assert_eq!(p.into_body(), Bytes::from_static(br#"{"z":1,"a":2}"#));
    }
}
