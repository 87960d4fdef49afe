//! The channel face: Moobius-compatible WebSocket endpoint and HTTP API.

use axum::Router;

/// Everything the channel routes need.
#[derive(Clone)]
pub struct ChannelFace {}

/// The channel face's routes. Paths not listed here fall through to the queue face.
pub fn routes(_face: ChannelFace) -> Router {
    Router::new()
}
