//! Request bodies and stored payloads. A payload remembers which of the three kinds it is,
//! because each kind is answered differently (text as `text/html`, bytes as base64 on read-back).

use bytes::Bytes;

/// The three body kinds the protocol knows, chosen by the request's `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ContentKind {
    /// `application/json`: an object or an array, stored as the text received.
    Json,
    /// `text/plain`: UTF-8 text (invalid sequences replaced), answered as `text/html`.
    Text,
    /// `application/octet-stream`: raw bytes, read back as base64.
    Bytes,
}

impl ContentKind {
    /// The original accepts exactly these three strings, case-sensitive and without parameters;
    /// its test suite asserts that `application/json; charset=utf-8` is refused on push.
    pub fn from_content_type(ct: &str) -> Option<ContentKind> {
        match ct {
            "application/json" => Some(ContentKind::Json),
            "text/plain" => Some(ContentKind::Text),
            "application/octet-stream" => Some(ContentKind::Bytes),
            _ => None,
        }
    }

    /// The exact `Content-Type` string that selects this kind on push.
    pub fn content_type(self) -> &'static str {
        match self {
            ContentKind::Json => "application/json",
            ContentKind::Text => "text/plain",
            ContentKind::Bytes => "application/octet-stream",
        }
    }
}

/// A stored payload. For `Json` the bytes are the JSON text exactly as received (validated), so
/// key order and large numbers survive; for `Text` they are UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// Which of the three body kinds this is, which decides how it is answered.
    pub kind: ContentKind,
    /// The body as stored: validated JSON text, UTF-8 text, or raw bytes.
    pub data: Bytes,
}

/// Why a JSON body was refused (answered with 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonBodyError {
    /// The original's strict parser takes only objects and arrays.
    #[error("invalid json")]
    NotObjectOrArray,
    /// The body starts like JSON but does not parse; holds the parser's message.
    #[error("{0}")]
    Malformed(String),
}

impl Payload {
    /// Builds the payload of a body of the given kind, as the original's body parsers do.
    pub fn from_body(kind: ContentKind, body: Bytes) -> Result<Payload, JsonBodyError> {
        let data = match kind {
            ContentKind::Json => parse_json_body(body)?,
            ContentKind::Text => match String::from_utf8_lossy(&body) {
                std::borrow::Cow::Borrowed(_) => body,
                std::borrow::Cow::Owned(fixed) => Bytes::from(fixed),
            },
            ContentKind::Bytes => body,
        };
        Ok(Payload { kind, data })
    }

    /// The text of a `Text` payload (lossy for anything else, which callers never ask for).
    pub fn as_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.data)
    }
}

/// Validates a JSON body: an empty body is `{}`, the first non-blank character must open an
/// object or an array, and the rest must parse. Returns the JSON text to store.
pub fn parse_json_body(body: Bytes) -> Result<Bytes, JsonBodyError> {
    let first = body
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    match first {
        None => return Ok(Bytes::from_static(b"{}")),
        Some(b'{') | Some(b'[') => {}
        Some(_) => return Err(JsonBodyError::NotObjectOrArray),
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(&body)
        .map_err(|e| JsonBodyError::Malformed(e.to_string()))?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn content_types_are_exact() {
        assert_eq!(
            ContentKind::from_content_type("application/json"),
            Some(ContentKind::Json)
        );
        assert_eq!(
            ContentKind::from_content_type("application/json; charset=utf-8"),
            None
        );
        assert_eq!(ContentKind::from_content_type("Text/Plain"), None);
        assert_eq!(
            ContentKind::from_content_type("application/x-www-form-urlencoded"),
            None
        );
    }

    #[test]
    fn json_bodies_are_strict() {
        assert_eq!(parse_json_body(Bytes::from_static(b"")).unwrap(), "{}");
        assert_eq!(parse_json_body(Bytes::from_static(b"  \n")).unwrap(), "{}");
        assert_eq!(
            parse_json_body(Bytes::from_static(b" [1]")).unwrap(),
            " [1]"
        );
        assert_eq!(
            parse_json_body(Bytes::from_static(b"123")),
            Err(JsonBodyError::NotObjectOrArray)
        );
        assert_eq!(
            parse_json_body(Bytes::from_static(b"\"x\"")),
            Err(JsonBodyError::NotObjectOrArray)
        );
        assert!(matches!(
            parse_json_body(Bytes::from_static(b"{\"a\":")),
            Err(JsonBodyError::Malformed(_))
        ));
    }

    #[test]
    fn text_is_decoded_lossily() {
        let p = Payload::from_body(ContentKind::Text, Bytes::from_static(b"a\xffb")).unwrap();
        assert_eq!(p.as_text(), "a\u{fffd}b");
    }

    const KINDS: [ContentKind; 3] = [ContentKind::Json, ContentKind::Text, ContentKind::Bytes];

    proptest! {
        /// A kind's content type selects it, and nothing but the three exact strings selects one.
        #[test]
        fn content_types_round_trip(ct in any::<String>()) {
            for k in KINDS {
                prop_assert_eq!(ContentKind::from_content_type(k.content_type()), Some(k));
            }
            match ContentKind::from_content_type(&ct) {
                Some(k) => prop_assert_eq!(k.content_type(), ct),
                None => prop_assert!(KINDS.iter().all(|k| k.content_type() != ct)),
            }
        }

        /// Any body is judged without panicking; what is accepted is stored as received (or `{}`
        /// for a blank body) and is a JSON object or array.
        #[test]
        fn any_json_body_is_judged(body in prop::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(stored) = parse_json_body(Bytes::from(body.clone())) {
                let blank = body.iter().all(|b| b" \t\n\r".contains(b));
                prop_assert_eq!(&stored[..], if blank { &b"{}"[..] } else { &body[..] });
                let v: serde_json::Value = serde_json::from_slice(&stored).unwrap();
                prop_assert!(v.is_object() || v.is_array());
            }
        }

        /// Every object and array is accepted unchanged, whatever it holds; every other value is not.
        #[test]
        fn json_values_are_accepted_by_their_shape(v in crate::test_strategies::json_value(), pretty in any::<bool>()) {
            let text = if pretty { serde_json::to_vec_pretty(&v) } else { serde_json::to_vec(&v) }.unwrap();
            let got = parse_json_body(Bytes::from(text.clone()));
            if v.is_object() || v.is_array() {
                prop_assert_eq!(got, Ok(Bytes::from(text)));
            } else {
                prop_assert_eq!(got, Err(JsonBodyError::NotObjectOrArray));
            }
        }

        /// Text bodies become valid UTF-8, unchanged when they were; byte bodies stay as sent.
        #[test]
        fn text_and_bytes_bodies(body in prop::collection::vec(any::<u8>(), 0..64)) {
            let text = Payload::from_body(ContentKind::Text, Bytes::from(body.clone())).unwrap();
            prop_assert!(std::str::from_utf8(&text.data).is_ok());
            if let Ok(s) = std::str::from_utf8(&body) {
                prop_assert_eq!(text.as_text(), s);
            }
            let bytes = Payload::from_body(ContentKind::Bytes, Bytes::from(body.clone())).unwrap();
            prop_assert_eq!(&bytes.data[..], &body[..]);
        }
    }
}
