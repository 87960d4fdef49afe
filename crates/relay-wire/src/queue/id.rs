//! Message ids (MongoDB ObjectId-shaped: 12 bytes written as 24 lowercase hex characters) and
//! node ids (hex strings, compared exactly).

use std::fmt;

/// Node ids longer than this are refused, so that one header cannot make an index entry huge.
pub const MAX_NODE_LEN: usize = 128;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
/// A message id: the 12 bytes of a MongoDB ObjectId, written as 24 lowercase hex characters.
pub struct MessageId(pub [u8; 12]);

/// Why a path segment does not name a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseIdError {
    /// Hexadecimal, but not 24 characters long.
    #[error("a message id has 24 hexadecimal characters")]
    Length,
    /// Empty, or contains a character outside `[0-9A-Fa-f]`.
    #[error("a message id has only hexadecimal characters")]
    NotHex,
}

impl MessageId {
    /// Parses a path id. Upper-case hex names the same id, as in the original.
    pub fn parse(s: &str) -> Result<MessageId, ParseIdError> {
        if !is_hex(s) {
            return Err(ParseIdError::NotHex);
        }
        if s.len() != 24 {
            return Err(ParseIdError::Length);
        }
        let mut out = [0u8; 12];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            out[i] = (hex_val(chunk[0]) << 4) | hex_val(chunk[1]);
        }
        Ok(MessageId(out))
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// Non-empty and only `[0-9A-Fa-f]` (no `0x` prefix).
pub fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A node id a client may use as identity or destination.
pub fn is_valid_node(s: &str) -> bool {
    is_hex(s) && s.len() <= MAX_NODE_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_in_lower_case() {
        let id = MessageId::parse("5823A70203c123003de4229B").unwrap();
        assert_eq!(id.to_string(), "5823a70203c123003de4229b");
    }

    #[test]
    fn bad_ids_are_refused() {
        assert_eq!(MessageId::parse("abc"), Err(ParseIdError::Length));
        assert_eq!(
            MessageId::parse("zz23a70203c123003de4229b"),
            Err(ParseIdError::NotHex)
        );
        assert_eq!(MessageId::parse(""), Err(ParseIdError::NotHex));
    }

    #[test]
    fn node_ids() {
        assert!(is_valid_node("af123"));
        assert!(is_valid_node("AF"));
        assert!(!is_valid_node("0xaf"));
        assert!(!is_valid_node(""));
        assert!(!is_valid_node(&"a".repeat(MAX_NODE_LEN + 1)));
    }
}
