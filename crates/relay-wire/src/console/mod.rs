//! Step console wire format: TLV frames and JSON messages.
