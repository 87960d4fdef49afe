//! The Rust clients against scripted and unusable peers: one test binary, one module per area.

mod channel_frame_errors;
mod channel_http_errors;
mod channel_scripted_peer;
mod channel_unusable_urls;
