//! The shared token. The whole `Authorization` value must equal it (no `Bearer ` prefix), as the
//! Python clients send it.

use http::HeaderMap;

pub(crate) fn authorized(token: &str, headers: &HeaderMap) -> bool {
    headers
        .get(http::header::AUTHORIZATION)
        .is_some_and(|v| constant_time_eq(v.as_bytes(), token.as_bytes()))
}

/// Compares without stopping at the first difference, so response timing does not reveal how
/// much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_token_only() {
        let mut h = HeaderMap::new();
        assert!(!authorized("t0k", &h));
        h.insert("authorization", "Bearer t0k".parse().unwrap());
        assert!(!authorized("t0k", &h));
        h.insert("authorization", "t0k".parse().unwrap());
        assert!(authorized("t0k", &h));
        h.insert("authorization", "t0K".parse().unwrap());
        assert!(!authorized("t0k", &h));
    }
}
