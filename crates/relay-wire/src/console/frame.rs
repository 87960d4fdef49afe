//! The 20-byte preamble `:TYPE:LLLLLLLLLLLLL:` followed by the payload.

use thiserror::Error;

/// Length of the preamble that precedes every payload.
pub const PREAMBLE_LEN: usize = 20;

/// Largest length the 13-digit field can express.
const MAX_ENCODABLE: u64 = 9_999_999_999_999;

/// Why a console frame was refused; each ends the connection, since the stream cannot be resynchronised.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    /// The 20 bytes do not match `:TYPE:<13 digits>:`; holds them, lossily decoded.
    #[error("invalid preamble {0:?}: expected :TYPE:<13 digits>:")]
    BadPreamble(String),
    /// A well-formed preamble of a type other than `JSON` (the type, without its `_` padding).
    #[error("unsupported message type {0:?}: only JSON is accepted")]
    UnsupportedType(String),
    /// The preamble announces more payload bytes than the decoder's limit allows.
    #[error("message of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The announced payload length, in bytes.
        len: u64,
        /// The largest payload the decoder accepts, in bytes.
        limit: u64,
    },
}

/// Frames `payload` with the given type (1 to 4 characters from `A-Z` and `_`).
pub fn encode_frame(kind: &str, payload: &[u8]) -> Vec<u8> {
    debug_assert!(!kind.is_empty() && kind.len() <= 4);
    let mut out = Vec::with_capacity(PREAMBLE_LEN + payload.len());
    out.push(b':');
    out.extend_from_slice(kind.as_bytes());
    out.extend(std::iter::repeat_n(b'_', 4 - kind.len()));
    out.extend_from_slice(format!(":{:013}:", payload.len()).as_bytes());
    out.extend_from_slice(payload);
    out
}

/// Frames a JSON payload, the only type the console exchanges.
pub fn encode_json_frame(payload: &[u8]) -> Vec<u8> {
    encode_frame("JSON", payload)
}

/// Validates a preamble against `^:[A-Z_]{4}:[0-9]{13}:$` and returns (type, payload length).
pub fn parse_preamble(raw: &[u8]) -> Result<(String, u64), FrameError> {
    let bad = || FrameError::BadPreamble(String::from_utf8_lossy(raw).into_owned());
    if raw.len() != PREAMBLE_LEN || raw[0] != b':' || raw[5] != b':' || raw[19] != b':' {
        return Err(bad());
    }
    let kind = &raw[1..5];
    let digits = &raw[6..19];
    if !kind.iter().all(|b| b.is_ascii_uppercase() || *b == b'_')
        || !digits.iter().all(u8::is_ascii_digit)
    {
        return Err(bad());
    }
    let kind = std::str::from_utf8(kind)
        .map_err(|_| bad())?
        .trim_end_matches('_');
    if kind.is_empty() {
        return Err(bad());
    }
    let len: u64 = std::str::from_utf8(digits)
        .map_err(|_| bad())?
        .parse()
        .map_err(|_| bad())?;
    debug_assert!(len <= MAX_ENCODABLE);
    Ok((kind.to_string(), len))
}

/// Incremental reassembly of JSON frames. The caller asks [`FrameDecoder::wanted`] how many bytes
/// finish the current part and should never feed more, so that one read (and the descriptors
/// that came with it) never spans two messages.
#[derive(Debug)]
pub struct FrameDecoder {
    limit: u64,
    buf: Vec<u8>,
    payload_len: Option<usize>,
}

impl FrameDecoder {
    /// `limit` is the largest payload accepted, in bytes.
    pub fn new(limit: u64) -> Self {
        FrameDecoder {
            limit,
            buf: Vec::with_capacity(PREAMBLE_LEN),
            payload_len: None,
        }
    }

    /// Bytes still missing to finish the preamble or the payload being read.
    pub fn wanted(&self) -> usize {
        match self.payload_len {
            None => PREAMBLE_LEN - self.buf.len(),
            Some(len) => len - self.buf.len(),
        }
    }

    /// True when no byte of the next message has been received yet.
    pub fn at_boundary(&self) -> bool {
        self.payload_len.is_none() && self.buf.is_empty()
    }

    /// Feeds bytes; returns every payload they complete. Bytes beyond [`Self::wanted`] are
    /// accepted too (tests feed whole streams), they simply carry over into the next message.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut out = Vec::new();
        loop {
            if let Some(len) = self.payload_len {
                if len == 0 && self.buf.is_empty() {
                    self.payload_len = None;
                    out.push(Vec::new());
                    continue;
                }
            }
            if data.is_empty() {
                return Ok(out);
            }
            let take = self.wanted().min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.wanted() > 0 {
                continue;
            }
            match self.payload_len {
                None => {
                    let (kind, len) = parse_preamble(&self.buf)?;
                    if kind != "JSON" {
                        return Err(FrameError::UnsupportedType(kind));
                    }
                    if len > self.limit {
                        return Err(FrameError::TooLarge {
                            len,
                            limit: self.limit,
                        });
                    }
                    self.buf.clear();
                    // No reservation up front: a peer announcing a large payload and sending
                    // nothing must not cost memory.
                    self.payload_len = Some(len as usize);
                }
                Some(_) => {
                    self.payload_len = None;
                    out.push(std::mem::take(&mut self.buf));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reply_example_from_the_spec() {
        let payload = br#"{"msgid": "m1", "done": true, "error": null}"#;
        let framed = encode_json_frame(payload);
        assert_eq!(&framed[..20], b":JSON:0000000000044:");
    }

    #[test]
    fn short_types_are_padded_and_trimmed() {
        let framed = encode_frame("TX", b"");
        assert_eq!(&framed, b":TX__:0000000000000:");
        assert_eq!(parse_preamble(&framed).unwrap(), ("TX".to_string(), 0));
    }

    #[test]
    fn invalid_preambles_are_rejected() {
        for raw in [
            &b":json:0000000000001:"[..],
            b":JSON:00000000000x1:",
            b":____:0000000000001:",
            b"JSON:0000000000001::",
            b":JSON:000000000001:",
        ] {
            assert!(
                matches!(parse_preamble(raw), Err(FrameError::BadPreamble(_))),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn non_json_type_and_oversized_frames_are_errors() {
        let mut d = FrameDecoder::new(10);
        assert_eq!(
            d.feed(b":TXT_:0000000000001:x"),
            Err(FrameError::UnsupportedType("TXT".into()))
        );
        let mut d = FrameDecoder::new(10);
        assert_eq!(
            d.feed(b":JSON:0000000000011:"),
            Err(FrameError::TooLarge { len: 11, limit: 10 })
        );
    }

    #[test]
    fn empty_payload_is_a_frame() {
        let mut d = FrameDecoder::new(10);
        assert_eq!(
            d.feed(b":JSON:0000000000000:").unwrap(),
            vec![Vec::<u8>::new()]
        );
        assert!(d.at_boundary());
    }

    proptest! {
        #[test]
        fn any_split_reassembles_the_same_payloads(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..6),
            cuts in proptest::collection::vec(1usize..50, 0..40),
        ) {
            let stream: Vec<u8> = payloads.iter().flat_map(|p| encode_json_frame(p)).collect();
            let mut d = FrameDecoder::new(1 << 20);
            let mut got = Vec::new();
            let mut rest = &stream[..];
            let mut cuts = cuts.into_iter();
            while !rest.is_empty() {
                let n = cuts.next().unwrap_or(rest.len()).min(rest.len());
                got.extend(d.feed(&rest[..n]).unwrap());
                rest = &rest[n..];
            }
            prop_assert_eq!(got, payloads);
            prop_assert!(d.at_boundary());
        }

        /// Any stream, cut anywhere, gives the same payloads and then the same error as the
        /// whole stream fed at once: no panic, and no dependence on how reads fall.
        #[test]
        fn any_bytes_decode_the_same_however_cut(
            stream in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..120),
                // Mostly well-formed streams with one byte changed, to get past the preamble.
                (prop::collection::vec(prop::collection::vec(any::<u8>(), 0..30), 1..4), any::<prop::sample::Index>(), any::<u8>())
                    .prop_map(|(ps, at, b)| {
                        let mut s: Vec<u8> = ps.iter().flat_map(|p| encode_json_frame(p)).collect();
                        let i = at.index(s.len());
                        s[i] = b;
                        s
                    }),
            ],
            cuts in prop::collection::vec(1usize..30, 0..20),
            limit in 0u64..40,
        ) {
            let whole = FrameDecoder::new(limit).feed(&stream);
            let mut d = FrameDecoder::new(limit);
            let mut got = Vec::new();
            let mut rest = &stream[..];
            let mut cuts = cuts.into_iter();
            let cut = loop {
                if rest.is_empty() {
                    break Ok(got);
                }
                let n = cuts.next().unwrap_or(rest.len()).min(rest.len());
                prop_assert!(d.wanted() > 0);
                match d.feed(&rest[..n]) {
                    Ok(p) => got.extend(p),
                    Err(e) => break Err(e),
                }
                rest = &rest[n..];
            };
            match (whole, cut) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                (a, b) => prop_assert!(false, "whole {:?}, cut {:?}", a, b),
            }
        }

        /// Any 20 bytes are a preamble or refused; an accepted one is what the encoder writes for
        /// its type and length.
        #[test]
        fn any_preamble_is_read_or_refused(raw in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..24),
            "[:A-Z_a-z0-9]{20}".prop_map(String::into_bytes),
            ":[A-Z_]{4}:[0-9]{13}:".prop_map(String::into_bytes),
        ]) {
            if let Ok((kind, len)) = parse_preamble(&raw) {
                prop_assert!(!kind.is_empty() && kind.len() <= 4 && len <= MAX_ENCODABLE);
                let again = format!(":{kind:_<4}:{len:013}:");
                prop_assert_eq!(again.as_bytes(), &raw[..]);
            }
        }

        #[test]
        fn preamble_round_trips(len in 0u64..MAX_ENCODABLE, kind in "[A-Z]{1,4}") {
            let mut framed = encode_frame(&kind, b"");
            framed.truncate(6);
            framed.extend_from_slice(format!("{len:013}:").as_bytes());
            prop_assert_eq!(parse_preamble(&framed).unwrap(), (kind, len));
        }
    }
}
