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
    use proptest::prelude::*;

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

    proptest! {
        /// Every id is written as 24 lowercase hex characters that parse back to it, in either case.
        #[test]
        fn display_parses_back(bytes in any::<[u8; 12]>()) {
            let id = MessageId(bytes);
            let text = id.to_string();
            prop_assert_eq!(text.len(), 24);
            prop_assert!(text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            prop_assert_eq!(MessageId::parse(&text), Ok(id));
            prop_assert_eq!(MessageId::parse(&text.to_uppercase()), Ok(id));
        }

        /// Any path segment is answered without panicking, and accepted exactly when it is 24 hex
        /// characters (multi-byte characters included, which must not be cut into halves).
        #[test]
        fn any_string_parses_or_says_why(s in any::<String>()) {
            let got = MessageId::parse(&s);
            let well_formed = s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit());
            prop_assert_eq!(got.is_ok(), well_formed, "{:?}", got);
            if let Ok(id) = got {
                prop_assert_eq!(id.to_string(), s.to_ascii_lowercase());
            }
        }

        /// The same, for strings that are hex but for their length or one character.
        #[test]
        fn near_misses_are_refused(s in "[0-9a-fA-F]{0,30}", bad in "[^0-9a-fA-F]", at in any::<prop::sample::Index>()) {
            if s.len() != 24 {
                prop_assert_eq!(MessageId::parse(&s), Err(if s.is_empty() { ParseIdError::NotHex } else { ParseIdError::Length }));
            }
            let mut broken = s.clone();
            broken.insert_str(at.index(s.len() + 1), &bad);
            prop_assert_eq!(MessageId::parse(&broken), Err(ParseIdError::NotHex));
        }
    }
}
