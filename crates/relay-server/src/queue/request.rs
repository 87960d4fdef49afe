//! Reading what a request says: its dialect, the caller's identity and other headers.

use http::HeaderMap;
use relay_wire::queue::{Dialect, Field};

/// A header's value; an empty or non-text header counts as missing.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).filter(|s| !s.is_empty())
}

pub fn dialect(headers: &HeaderMap) -> Dialect {
    Dialect::detect(|name| headers.contains_key(name))
}

/// The caller's node id, in the request's dialect.
pub fn identity(headers: &HeaderMap, dialect: Dialect) -> Option<&str> {
    header(headers, dialect.header(Field::Source))
}

pub fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
}

pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(http::header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}
