//! Step console wire format (Moulti-compatible): TLV frames, Python-style JSON text, reply shapes
//! and socket address naming. Pure functions only; the server and client crates do the I/O.

mod address;
mod frame;
mod json;
mod reply;

pub use address::{client_bind_name, default_socket_name, SocketAddress};
pub use frame::{
    encode_frame, encode_json_frame, parse_preamble, FrameDecoder, FrameError, PREAMBLE_LEN,
};
pub use json::to_python_json;
pub use reply::{build_reply, is_truthy};
