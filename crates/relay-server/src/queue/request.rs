//! Reading what a request says: its dialect, the caller's identity and other headers.

use http::HeaderMap;
use relay_wire::queue::{Dialect, Field};

/// A header's value; an empty or non-text header counts as missing.
pub(super) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
}

pub(super) fn dialect(headers: &HeaderMap) -> Dialect {
    Dialect::detect(|name| headers.contains_key(name))
}

/// The caller's node id, in the request's dialect.
pub(super) fn identity(headers: &HeaderMap, dialect: Dialect) -> Option<&str> {
    header(headers, dialect.header(Field::Source))
}

pub(super) fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

pub(super) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A header's value read byte for byte as Latin-1, the way the original (Node.js) read header
/// values and the way Python's http.client writes them, so any label survives the round trip.
pub(super) fn header_latin1(headers: &HeaderMap, name: &str) -> Option<String> {
    let v = headers.get(name)?.as_bytes();
    (!v.is_empty()).then(|| v.iter().map(|&b| b as char).collect())
}
