//! RFC 6455 framing: the handshake's accept key, the header of a server's (unmasked) frame, a
//! client's (masked) frame, and the parser of either side's frames, which unmasks in place.
//!
//! The channel face writes frames itself (rather than through a WebSocket library) so that one
//! serialised message is shared by every recipient and a connection's queued frames leave in one
//! vectored write; the channel benchmark's client speaks the same framing from the other side.

use std::ops::Range;

use base64::Engine as _;
use bytes::Bytes;
use sha1::{Digest, Sha1};

/// Whose frames are parsed: a server reads client frames, which must be masked; a client reads
/// server frames, which must not be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Masking {
    /// The server side: every client frame must carry a masking key.
    Required,
    /// The client side: a masked server frame is a protocol error.
    Forbidden,
}

/// Opcode of a continuation frame, which carries the next part of a fragmented message.
pub const OP_CONT: u8 = 0x0;
/// Opcode of a text frame (UTF-8 payload).
pub const OP_TEXT: u8 = 0x1;
/// Opcode of a binary frame.
pub const OP_BINARY: u8 = 0x2;
/// Opcode of a close frame: an optional 2-byte status code, then a UTF-8 reason.
pub const OP_CLOSE: u8 = 0x8;
/// Opcode of a ping, which the peer answers with a pong carrying the same payload.
pub const OP_PING: u8 = 0x9;
/// Opcode of a pong, the answer to a ping (or an unsolicited heartbeat).
pub const OP_PONG: u8 = 0xA;

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// The header of an unmasked, final frame: its bytes and how many of them are used.
pub fn header(opcode: u8, len: usize) -> ([u8; 10], u8) {
    let mut h = [0u8; 10];
    h[0] = 0x80 | opcode;
    if len < 126 {
        h[1] = len as u8;
        (h, 2)
    } else if len <= u16::MAX as usize {
        h[1] = 126;
        h[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        (h, 4)
    } else {
        h[1] = 127;
        h[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        (h, 10)
    }
}

/// A server's frame (unmasked, final) encoded once: header and payload in one shared buffer, so
/// that a message sent to many sockets costs each of them a reference count and one slice of a
/// vectored write, not a header of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    wire: Bytes,
    head: u8,
}

impl Frame {
    /// The frame with `opcode` carrying `payload`.
    pub fn new(opcode: u8, payload: &[u8]) -> Self {
        let (head, n) = header(opcode, payload.len());
        let mut wire = Vec::with_capacity(n as usize + payload.len());
        wire.extend_from_slice(&head[..n as usize]);
        wire.extend_from_slice(payload);
        Frame {
            wire: Bytes::from(wire),
            head: n,
        }
    }

    /// A text frame (the caller's string is UTF-8 by construction).
    pub fn text(payload: &str) -> Self {
        Self::new(OP_TEXT, payload.as_bytes())
    }

    /// The payload, without the header.
    pub fn payload(&self) -> &[u8] {
        &self.wire[self.head as usize..]
    }

    /// The whole frame as it goes on the wire (cloning it shares the buffer).
    pub fn wire(&self) -> &Bytes {
        &self.wire
    }
}

/// Appends a client's frame (final, masked with `key`) to `out`.
pub fn masked_frame(opcode: u8, payload: &[u8], key: [u8; 4], out: &mut Vec<u8>) {
    let (mut head, n) = header(opcode, payload.len());
    head[1] |= 0x80;
    out.extend_from_slice(&head[..n as usize]);
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
}

/// The payload of a close frame: the code, then the reason cut to the protocol's 123 bytes
/// (at a character boundary).
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(&reason.as_bytes()[..end]);
    p
}

/// One inbound frame, parsed at the start of a buffer.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// A complete frame: `payload` (already unmasked) lies in the buffer; `len` bytes were used.
    Frame {
        /// True when this is the last frame of its message.
        fin: bool,
        /// One of the `OP_*` values (unknown opcodes are refused as errors).
        opcode: u8,
        /// Where the unmasked payload lies in the buffer.
        payload: Range<usize>,
        /// Bytes of the buffer the frame took, header included: where the next frame starts.
        len: usize,
    },
    /// Not all of the frame is buffered yet; `need` is the total it takes, when known.
    Incomplete {
        /// Header length plus payload length once the header is complete; `None` while even the
        /// header is cut short.
        need: Option<usize>,
    },
    /// The peer broke the protocol: close with this code and reason.
    Error(u16, &'static str),
}

/// Parses the frame at the start of `buf`, unmasking a masked payload in place. Payloads over
/// `max` bytes are refused before they are read.
pub fn parse(buf: &mut [u8], max: usize, masking: Masking) -> Parsed {
    if buf.len() < 2 {
        return Parsed::Incomplete { need: None };
    }
    let (b0, b1) = (buf[0], buf[1]);
    let fin = b0 & 0x80 != 0;
    let opcode = b0 & 0x0f;
    if b0 & 0x70 != 0 {
        return Parsed::Error(
            1002,
            "protocol error: reserved bits set without a negotiated extension",
        );
    }
    if !matches!(
        opcode,
        OP_CONT | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG
    ) {
        return Parsed::Error(1002, "protocol error: unknown opcode");
    }
    let masked = b1 & 0x80 != 0;
    match (masking, masked) {
        (Masking::Required, false) => {
            return Parsed::Error(1002, "protocol error: client frames must be masked")
        }
        (Masking::Forbidden, true) => {
            return Parsed::Error(1002, "protocol error: server frames must not be masked")
        }
        _ => {}
    }
    let (len, mut head) = match b1 & 0x7f {
        126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as u64, 4),
        127 if buf.len() >= 10 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(b), 10)
        }
        126 | 127 => return Parsed::Incomplete { need: None },
        n => (n as u64, 2),
    };
    if opcode >= OP_CLOSE && (!fin || len > 125) {
        return Parsed::Error(1002, "protocol error: bad control frame");
    }
    if len > max as u64 {
        return Parsed::Error(1009, "frame too large");
    }
    let len = len as usize;
    let key_len = if masked { 4 } else { 0 };
    if buf.len() < head + key_len {
        return Parsed::Incomplete {
            need: Some(head + key_len + len),
        };
    }
    let key = masked.then(|| [buf[head], buf[head + 1], buf[head + 2], buf[head + 3]]);
    head += key_len;
    if buf.len() < head + len {
        return Parsed::Incomplete {
            need: Some(head + len),
        };
    }
    if let Some(key) = key {
        unmask(&mut buf[head..head + len], key);
    }
    Parsed::Frame {
        fin,
        opcode,
        payload: head..head + len,
        len: head + len,
    }
}

fn unmask(data: &mut [u8], key: [u8; 4]) {
    let k = u32::from_ne_bytes(key);
    let mut chunks = data.chunks_exact_mut(4);
    for c in &mut chunks {
        let v = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) ^ k;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        masked_frame(opcode, payload, [0x37, 0xfa, 0x21, 0x3d], &mut f);
        if !fin {
            f[0] &= 0x7f;
        }
        f
    }

    #[test]
    fn a_shared_frame_parses_back_to_its_payload() {
        for n in [0usize, 125, 126, 65535, 65536] {
            let payload = "x".repeat(n);
            let f = Frame::text(&payload);
            assert_eq!(f.payload(), payload.as_bytes());
            let mut wire = f.wire().to_vec();
            match parse(&mut wire, usize::MAX, Masking::Forbidden) {
                Parsed::Frame {
                    fin,
                    opcode,
                    payload: range,
                    len,
                } => {
                    assert!(fin);
                    assert_eq!(opcode, OP_TEXT);
                    assert_eq!(len, f.wire().len());
                    assert_eq!(&wire[range], payload.as_bytes());
                }
                other => panic!("{n} bytes: {other:?}"),
            }
        }
    }

    #[test]
    fn accept_key_of_the_rfc_example() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn parses_and_unmasks_frames_of_every_length_form() {
        for n in [0usize, 5, 125, 126, 1000, 65535, 65536, 70000] {
            let payload: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let mut f = masked(OP_TEXT, true, &payload);
            let total = f.len();
            for cut in [1, 2, total / 2, total - 1] {
                assert!(
                    matches!(
                        parse(&mut f.clone()[..cut], 1 << 20, Masking::Required),
                        Parsed::Incomplete { .. }
                    ),
                    "n={n} cut={cut}"
                );
            }
            f.extend_from_slice(b"next");
            match parse(&mut f, 1 << 20, Masking::Required) {
                Parsed::Frame {
                    fin: true,
                    opcode: OP_TEXT,
                    payload: r,
                    len,
                } => {
                    assert_eq!(&f[r], &payload[..]);
                    assert_eq!(len, total);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn refuses_what_the_protocol_forbids() {
        let mut big = masked(OP_TEXT, true, &vec![b'x'; 2000]);
        assert_eq!(
            parse(&mut big, 1000, Masking::Required),
            Parsed::Error(1009, "frame too large")
        );
        let mut unmasked = vec![0x81, 0x01, b'x'];
        assert!(matches!(
            parse(&mut unmasked, 1000, Masking::Required),
            Parsed::Error(1002, _)
        ));
        let mut long_ping = masked(OP_PING, true, &[0; 126]);
        assert!(matches!(
            parse(&mut long_ping, 1000, Masking::Required),
            Parsed::Error(1002, _)
        ));
        let mut rsv = masked(OP_TEXT, true, b"x");
        rsv[0] |= 0x40;
        assert!(matches!(
            parse(&mut rsv, 1000, Masking::Required),
            Parsed::Error(1002, _)
        ));
    }

    #[test]
    fn a_client_reads_unmasked_server_frames_and_refuses_masked_ones() {
        for n in [0usize, 125, 126, 65536] {
            let payload = vec![b'y'; n];
            let (head, hl) = header(OP_TEXT, n);
            let mut f = head[..hl as usize].to_vec();
            f.extend_from_slice(&payload);
            match parse(&mut f, usize::MAX, Masking::Forbidden) {
                Parsed::Frame {
                    fin: true,
                    opcode: OP_TEXT,
                    payload: r,
                    len,
                } => {
                    assert_eq!((r.len(), len), (n, f.len()));
                }
                other => panic!("{other:?}"),
            }
        }
        let mut m = masked(OP_TEXT, true, b"x");
        assert!(matches!(
            parse(&mut m, 1000, Masking::Forbidden),
            Parsed::Error(1002, _)
        ));
    }

    proptest::proptest! {
        /// Whatever bytes arrive, the parser answers without panicking, and a frame it accepts
        /// lies within the buffer.
        #[test]
        fn any_bytes_parse_without_panic(mut bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300), max in 0usize..400) {
            for masking in [Masking::Required, Masking::Forbidden] {
                if let Parsed::Frame { payload, len, .. } = parse(&mut bytes.clone(), max, masking) {
                    proptest::prop_assert!(payload.end <= len && len <= bytes.len());
                }
            }
            let _ = parse(&mut bytes, max, Masking::Required);
        }

        /// An unmasked frame of any opcode a server sends reads back on the client side, whatever
        /// follows it in the buffer; cut short it is incomplete, and says how much it needs once
        /// its header is in.
        #[test]
        fn server_frames_round_trip(
            opcode in proptest::sample::select(&[OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG][..]),
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            trailer in proptest::collection::vec(proptest::num::u8::ANY, 0..20),
            cut in proptest::arbitrary::any::<proptest::sample::Index>(),
        ) {
            let payload = if opcode >= OP_CLOSE { &payload[..payload.len().min(125)] } else { &payload[..] };
            let (head, n) = header(opcode, payload.len());
            let mut f = head[..n as usize].to_vec();
            f.extend_from_slice(payload);
            let total = f.len();
            let cut = cut.index(total);
            match parse(&mut f.clone()[..cut], usize::MAX, Masking::Forbidden) {
                Parsed::Incomplete { need } => proptest::prop_assert!(need.is_none() || need == Some(total)),
                other => proptest::prop_assert!(false, "cut at {}: {:?}", cut, other),
            }
            f.extend_from_slice(&trailer);
            match parse(&mut f, usize::MAX, Masking::Forbidden) {
                Parsed::Frame { fin: true, opcode: op, payload: r, len } => {
                    proptest::prop_assert_eq!((op, len), (opcode, total));
                    proptest::prop_assert_eq!(&f[r], payload);
                }
                other => proptest::prop_assert!(false, "{:?}", other),
            }
        }

        /// A close payload is the code and the longest prefix of the reason that fits 125 bytes
        /// and is still UTF-8.
        #[test]
        fn close_payloads_fit_a_control_frame(code in proptest::num::u16::ANY, reason in proptest::arbitrary::any::<String>()) {
            let p = close_payload(code, &reason);
            proptest::prop_assert!(p.len() <= 125);
            proptest::prop_assert_eq!(u16::from_be_bytes([p[0], p[1]]), code);
            let kept = std::str::from_utf8(&p[2..]).unwrap();
            proptest::prop_assert!(reason.starts_with(kept));
            proptest::prop_assert!(kept.len() == reason.len() || kept.len() + reason[kept.len()..].chars().next().unwrap().len_utf8() > 123);
        }
    }

    proptest::proptest! {
        // Frames of up to 70 kB: a quarter of the default cases keeps the suite at a few seconds.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// A masked frame cut anywhere is incomplete; whole, it gives back its payload.
        #[test]
        fn masked_frames_round_trip(payload in proptest::collection::vec(proptest::num::u8::ANY, 0..70_000), key in proptest::array::uniform4(proptest::num::u8::ANY), cut in 0usize..70_020) {
            let mut f = Vec::new();
            masked_frame(OP_BINARY, &payload, key, &mut f);
            let cut = cut % f.len();
            let incomplete = matches!(parse(&mut f.clone()[..cut], usize::MAX, Masking::Required), Parsed::Incomplete { .. });
            proptest::prop_assert!(incomplete, "cut at {}", cut);
            match parse(&mut f, usize::MAX, Masking::Required) {
                Parsed::Frame { fin: true, opcode: OP_BINARY, payload: r, .. } => proptest::prop_assert_eq!(&f[r], &payload[..]),
                other => proptest::prop_assert!(false, "{:?}", other),
            }
        }
    }

    #[test]
    fn headers_use_the_shortest_length_form() {
        assert_eq!(header(OP_TEXT, 5), ([0x81, 5, 0, 0, 0, 0, 0, 0, 0, 0], 2));
        assert_eq!(&header(OP_TEXT, 300).0[..4], &[0x81, 126, 1, 44]);
        assert_eq!(header(OP_TEXT, 70000).1, 10);
        assert_eq!(close_payload(1008, "é".repeat(100).as_str()).len(), 2 + 122);
    }
}
