//! Channel wire format (Moobius-compatible): the UI payload types services push, the parser for
//! client -> server frames and the builders for server -> client frames. Pure: no I/O.
//!
//! - `types`: buttons, menu items, style items, canvas items, channel info, message content,
//!   characters and click arguments, with the key sets the Moobius SDK accepts.
//! - `inbound`: one text frame -> [`inbound::Inbound`] or a [`inbound::FrameError`] that says
//!   what to put in the failed `copy`.
//! - `outbound`: the exact frames a service or user receives.
//! - `requests`: typed, checked builders of client -> server frames (the Rust client's half).

pub mod inbound;
pub mod outbound;
#[cfg(test)]
mod props;
pub mod requests;
pub mod types;

/// The Moobius SDK's WebSocket client refuses any inbound message larger than 1 MiB, so neither
/// side may send one.
pub const MAX_FRAME_BYTES: usize = 1_048_576;

/// The pseudo group id meaning "addressed to the service only".
pub const SERVICE_GROUP: &str = "service";
